// The CPU test backend with one option of each type. At client creation it
// logs what it was given, at info level, sorted by name:
//   "options: count=3 flag=true label=x scale=0.5"
// so tests can follow options from the user to the plugin.
#include <sstream>

#include "cpu_backend.h"

namespace ltc::test {
namespace {

std::unique_ptr<plugin::Client> CreateClient(const plugin::ClientContext& context) {
  const plugin::Options& options = context.options;
  std::ostringstream echo;
  echo << "options:";
  // kBehaviour.options is sorted by name.
  for (const plugin::OptionSpec& spec : kBehaviour.options) {
    if (!options.Has(spec.name)) continue;
    echo << ' ' << spec.name << '=';
    switch (spec.type) {
      case LTC_VALUE_BOOL:
        echo << (options.Bool(spec.name, false) ? "true" : "false");
        break;
      case LTC_VALUE_INT64:
        echo << options.Int(spec.name, 0);
        break;
      case LTC_VALUE_DOUBLE:
        echo << options.Double(spec.name, 0);
        break;
      case LTC_VALUE_STRING:
        echo << options.String(spec.name, "");
        break;
    }
  }
  context.host.Log(LTC_LOG_INFO, echo.str());
  return std::make_unique<CpuClient>();
}

}  // namespace

const Behaviour kBehaviour{
    /*check_available=*/nullptr,
    /*create_client=*/CreateClient,
    /*options=*/{{"count", LTC_VALUE_INT64, "an integer (default 0)"},
                 {"flag", LTC_VALUE_BOOL, "a boolean (default false)"},
                 {"label", LTC_VALUE_STRING, "a string (default empty)"},
                 {"scale", LTC_VALUE_DOUBLE, "a double (default 1)"}},
};

}  // namespace ltc::test
