#define G_LOG_DOMAIN "chorus-plugins"

#include "rooms/plugin-host.h"

#include <gmodule.h>

#include "core/error.h"

/* Plugins build their errors from plugin.h's codes and quark; they must be
 * the server's so replies carry the plugin's code unchanged. */
G_STATIC_ASSERT((int)CHORUS_PLUGIN_ERROR_INVALID_PARAMS == (int)CHORUS_ERROR_INVALID_PARAMS);
G_STATIC_ASSERT((int)CHORUS_PLUGIN_ERROR_INTERNAL == (int)CHORUS_ERROR_INTERNAL);
G_STATIC_ASSERT((int)CHORUS_PLUGIN_ERROR_FORBIDDEN == (int)CHORUS_ERROR_FORBIDDEN);
G_STATIC_ASSERT((int)CHORUS_PLUGIN_ERROR_NOT_FOUND == (int)CHORUS_ERROR_NOT_FOUND);
G_STATIC_ASSERT((int)CHORUS_PLUGIN_ERROR_CONFLICT == (int)CHORUS_ERROR_CONFLICT);
G_STATIC_ASSERT((int)CHORUS_PLUGIN_ERROR_ROOM_FULL == (int)CHORUS_ERROR_ROOM_FULL);

typedef struct {
  const ChorusPlugin *plugin; /* borrowed from the module (static data) */
  GModule *module;            /* owned; NULL for plugins registered in-process */
  char *path;                 /* where it came from, for messages */
} LoadedPlugin;

struct _ChorusPluginHost {
  GPtrArray *plugins; /* LoadedPlugin*, kept sorted by kind */
};

static void
loaded_plugin_free(gpointer data)
{
  LoadedPlugin *lp = data;
  /* Rooms hold pointers into the module: the directory is freed before the
   * host (see main.c), so closing here is safe. */
  if (lp->module != NULL)
    g_module_close(lp->module);
  g_free(lp->path);
  g_free(lp);
}

ChorusPluginHost *
chorus_plugin_host_new(void)
{
  ChorusPluginHost *host = g_new0(ChorusPluginHost, 1);
  host->plugins = g_ptr_array_new_with_free_func(loaded_plugin_free);
  return host;
}

void
chorus_plugin_host_free(ChorusPluginHost *host)
{
  if (host == NULL)
    return;
  g_ptr_array_unref(host->plugins);
  g_free(host);
}

static gint
compare_by_kind(gconstpointer a, gconstpointer b)
{
  const LoadedPlugin *pa = *(LoadedPlugin *const *)a;
  const LoadedPlugin *pb = *(LoadedPlugin *const *)b;
  return g_strcmp0(pa->plugin->kind, pb->plugin->kind);
}

static gboolean
strv_contains(const char *const *strv, const char *s)
{
  for (; strv != NULL && *strv != NULL; strv++)
    if (g_strcmp0(*strv, s) == 0)
      return TRUE;
  return FALSE;
}

/* Checks everything but the ABI version (checked first, by the caller, as
 * nothing else of the struct can be trusted before it). */
static gboolean
validate_plugin(ChorusPluginHost *host, const ChorusPlugin *plugin, GError **error)
{
  if (plugin->kind == NULL || plugin->kind[0] == '\0') {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "plugin has no kind");
    return FALSE;
  }
  if (plugin->roles == NULL || plugin->roles[0] == NULL) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "plugin \"%s\" declares no roles",
                plugin->kind);
    return FALSE;
  }
  if (!strv_contains(plugin->roles, plugin->default_role)) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL,
                "plugin \"%s\": default role \"%s\" is not one of its roles", plugin->kind,
                plugin->default_role ? plugin->default_role : "(null)");
    return FALSE;
  }
  if (plugin->room_created == NULL || plugin->room_destroyed == NULL ||
      plugin->handle_request == NULL) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL,
                "plugin \"%s\": room_created, room_destroyed and handle_request are required",
                plugin->kind);
    return FALSE;
  }
  if (chorus_plugin_host_find(host, plugin->kind) != NULL) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_CONFLICT, "kind \"%s\" is already loaded",
                plugin->kind);
    return FALSE;
  }
  return TRUE;
}

static void
add_plugin(ChorusPluginHost *host, const ChorusPlugin *plugin, GModule *module, const char *path)
{
  LoadedPlugin *lp = g_new0(LoadedPlugin, 1);
  lp->plugin = plugin;
  lp->module = module;
  lp->path = g_strdup(path);
  g_ptr_array_add(host->plugins, lp);
  g_ptr_array_sort(host->plugins, compare_by_kind);
}

gboolean
chorus_plugin_host_register(ChorusPluginHost *host, const ChorusPlugin *plugin, GError **error)
{
  g_return_val_if_fail(host != NULL, FALSE);
  g_return_val_if_fail(plugin != NULL, FALSE);

  if (plugin->abi_version != CHORUS_PLUGIN_ABI_VERSION) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL,
                "plugin ABI version %u, expected %u: rebuild the plugin against "
                "include/chorus/plugin.h",
                plugin->abi_version, (guint)CHORUS_PLUGIN_ABI_VERSION);
    return FALSE;
  }
  if (!validate_plugin(host, plugin, error))
    return FALSE;
  add_plugin(host, plugin, NULL, "(built in)");
  return TRUE;
}

/* Loads one file; a refusal is logged (not fatal for the directory). */
static gboolean
load_file(ChorusPluginHost *host, const char *path)
{
  /* LOCAL: plugins cannot see each other's symbols; LAZY is not used so
   * that a plugin with a missing symbol fails here, not in the middle of a
   * request. */
  GModule *module = g_module_open(path, G_MODULE_BIND_LOCAL);
  if (module == NULL) {
    g_warning("plugin %s: cannot load: %s", path, g_module_error());
    return FALSE;
  }
  gpointer sym = NULL;
  if (!g_module_symbol(module, CHORUS_PLUGIN_ENTRY_SYMBOL, &sym) || sym == NULL) {
    g_warning("plugin %s: no %s() symbol: not a Chorus plugin, skipped", path,
              CHORUS_PLUGIN_ENTRY_SYMBOL);
    g_module_close(module);
    return FALSE;
  }
  ChorusPluginGetFunc get = (ChorusPluginGetFunc)sym;
  const ChorusPlugin *plugin = get();
  if (plugin == NULL) {
    g_warning("plugin %s: %s() returned NULL, skipped", path, CHORUS_PLUGIN_ENTRY_SYMBOL);
    g_module_close(module);
    return FALSE;
  }
  if (plugin->abi_version != CHORUS_PLUGIN_ABI_VERSION) {
    g_warning("plugin %s: refused: ABI version %u found, %u expected; rebuild the plugin "
              "against include/chorus/plugin.h",
              path, plugin->abi_version, (guint)CHORUS_PLUGIN_ABI_VERSION);
    g_module_close(module);
    return FALSE;
  }
  g_autoptr(GError) error = NULL;
  if (!validate_plugin(host, plugin, &error)) {
    g_warning("plugin %s: refused: %s", path, error->message);
    g_module_close(module);
    return FALSE;
  }
  add_plugin(host, plugin, module, path);
  g_info("plugin %s: kind \"%s\" loaded (%s)", path, plugin->kind,
         plugin->description ? plugin->description : "no description");
  return TRUE;
}

static gint
compare_strings(gconstpointer a, gconstpointer b)
{
  return g_strcmp0(*(const char *const *)a, *(const char *const *)b);
}

gboolean
chorus_plugin_host_load_dir(ChorusPluginHost *host, const char *dir, GError **error)
{
  g_return_val_if_fail(host != NULL, FALSE);
  g_return_val_if_fail(dir != NULL, FALSE);

  g_autoptr(GError) local_error = NULL;
  g_autoptr(GDir) d = g_dir_open(dir, 0, &local_error);
  if (d == NULL) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL, "cannot read plugin directory: %s",
                local_error->message);
    return FALSE;
  }
  /* Sorted, so that which of two plugins with the same kind wins does not
   * depend on the file system's order. */
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
  const char *name;
  while ((name = g_dir_read_name(d)) != NULL) {
    if (g_str_has_prefix(name, "lib") && g_str_has_suffix(name, ".so"))
      g_ptr_array_add(paths, g_build_filename(dir, name, NULL));
  }
  g_ptr_array_sort(paths, compare_strings);

  guint loaded = 0;
  for (guint i = 0; i < paths->len; i++)
    if (load_file(host, g_ptr_array_index(paths, i)))
      loaded++;
  if (loaded == 0) {
    g_set_error(error, CHORUS_ERROR, CHORUS_ERROR_INTERNAL,
                "no plugin loaded from %s (%u candidate lib*.so file%s; see the warnings above)",
                dir, paths->len, paths->len == 1 ? "" : "s");
    return FALSE;
  }
  return TRUE;
}

const ChorusPlugin *
chorus_plugin_host_find(ChorusPluginHost *host, const char *kind)
{
  g_return_val_if_fail(host != NULL, NULL);

  if (kind == NULL)
    return NULL;
  for (guint i = 0; i < host->plugins->len; i++) {
    LoadedPlugin *lp = g_ptr_array_index(host->plugins, i);
    if (g_strcmp0(lp->plugin->kind, kind) == 0)
      return lp->plugin;
  }
  return NULL;
}

char *
chorus_plugin_host_kinds_string(ChorusPluginHost *host)
{
  g_return_val_if_fail(host != NULL, NULL);

  GString *s = g_string_new(NULL);
  for (guint i = 0; i < host->plugins->len; i++) {
    LoadedPlugin *lp = g_ptr_array_index(host->plugins, i);
    if (i > 0)
      g_string_append(s, ", ");
    g_string_append(s, lp->plugin->kind);
  }
  return g_string_free(s, FALSE);
}

guint
chorus_plugin_host_count(ChorusPluginHost *host)
{
  g_return_val_if_fail(host != NULL, 0);
  return host->plugins->len;
}

const ChorusPlugin *
chorus_plugin_host_get(ChorusPluginHost *host, guint index)
{
  g_return_val_if_fail(host != NULL, NULL);
  g_return_val_if_fail(index < host->plugins->len, NULL);
  LoadedPlugin *lp = g_ptr_array_index(host->plugins, index);
  return lp->plugin;
}

gboolean
chorus_plugin_has_role(const ChorusPlugin *plugin, const char *role)
{
  g_return_val_if_fail(plugin != NULL, FALSE);
  return role != NULL && strv_contains(plugin->roles, role);
}

gboolean
chorus_plugin_has_method(const ChorusPlugin *plugin, const char *method)
{
  g_return_val_if_fail(plugin != NULL, FALSE);
  return method != NULL && strv_contains(plugin->methods, method);
}
