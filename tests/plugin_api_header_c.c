/* ltc/plugin_api.h compiles as strict C99 (-std=c99 -pedantic -Werror) and
 * its layout facts hold. */
#include "plugin_api_header_checks.h"

int main(void) { return ltc_header_check_failures() == 0 ? 0 : 1; }
