/* Test-only plugin built with a future ABI version: the host must refuse
 * it without touching anything past abi_version. */
#include "chorus/plugin.h"

static const char *const roles[] = { "member", NULL };

static const ChorusPlugin bad_plugin = {
  .abi_version = CHORUS_PLUGIN_ABI_VERSION + 1,
  .kind = "badabi",
  .description = "test plugin with a wrong ABI version",
  .default_role = "member",
  .roles = roles,
};

const ChorusPlugin *
chorus_plugin_get(void)
{
  return &bad_plugin;
}
