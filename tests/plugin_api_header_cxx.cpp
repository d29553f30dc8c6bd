// ltc/plugin_api.h compiles as strict C++ (-pedantic -Werror) and its layout
// facts hold.
#include "plugin_api_header_checks.h"

int main() { return ltc_header_check_failures() == 0 ? 0 : 1; }
