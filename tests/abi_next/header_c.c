/* The simulated 2.2 header compiles as strict C99, and keeps every 2.0
 * offset: the patch only appended. */
#include "golden_offsets_2_2.h"

int main(void) { return LTC_PLUGIN_ABI_MINOR == 2 ? 0 : 1; }
