/* Plugin host: loads room kinds (GModule shared objects implementing
 * include/chorus/plugin.h) from a directory, checking the ABI version. */
#pragma once

#include <glib.h>

#include "chorus/plugin.h"

G_BEGIN_DECLS

typedef struct _ChorusPluginHost ChorusPluginHost;

ChorusPluginHost *chorus_plugin_host_new(void);
void chorus_plugin_host_free(ChorusPluginHost *host);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ChorusPluginHost, chorus_plugin_host_free)

/* Loads every lib*.so in @dir that exports chorus_plugin_get(). A plugin
 * with a wrong ABI version, or a kind already loaded, is refused with a
 * WARNING log line naming the file, the versions and what to do; loading
 * goes on. Fails (error) when @dir cannot be read or no plugin loaded. */
gboolean chorus_plugin_host_load_dir(ChorusPluginHost *host, const char *dir, GError **error);

/* Registers a plugin linked in (tests). */
gboolean chorus_plugin_host_register(ChorusPluginHost *host, const ChorusPlugin *plugin,
                                     GError **error);

const ChorusPlugin *chorus_plugin_host_find(ChorusPluginHost *host, const char *kind);
/* "live, voice" (sorted), for error messages (transfer full). */
char *chorus_plugin_host_kinds_string(ChorusPluginHost *host);
guint chorus_plugin_host_count(ChorusPluginHost *host);

/* Added by rooms/: the @index-th plugin in kind order (borrowed), for
 * per-kind metrics. */
const ChorusPlugin *chorus_plugin_host_get(ChorusPluginHost *host, guint index);
/* TRUE when @role is one of @plugin's roles / @method one of its methods. */
gboolean chorus_plugin_has_role(const ChorusPlugin *plugin, const char *role);
gboolean chorus_plugin_has_method(const ChorusPlugin *plugin, const char *method);

G_END_DECLS
