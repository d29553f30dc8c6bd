/*
 * ltc/plugin_api.h: the stable C ABI between an ltc-plugins host and a
 * Lazy Tensor Core backend plugin. ABI 2.1.
 *
 * This header is the whole contract. Nothing C++ crosses it: no exceptions,
 * no STL types, no LibTorch types. Tensors cross as DLPack. It compiles as
 * C99 and as C++ with -pedantic -Werror.
 *
 * Call sequence
 *   1. The host dlopens the plugin and calls ltc_plugin_query() with its own
 *      ABI version; the plugin returns its function table (LtcPluginApi).
 *   2. plugin_get_attributes: name, version, vendor, build, the graph formats
 *      the plugin reads (in order of preference) and the LibTorch it links.
 *      No client is needed: a host that only lists plugins stops at step 3.
 *   3. plugin_check_available (optional): can the plugin run here?
 *   4. client_create with the user's options and the host's services (log,
 *      trace). client_get_info, then client_get_device_info per ordinal.
 *   5. Per graph: client_compile for one device, then executable_execute any
 *      number of times with buffers of that device; buffer_from_host,
 *      buffer_from_scalar and buffer_create_placeholder make buffers,
 *      buffer_to_host reads them back, buffer_destroy releases them.
 *   6. executable_destroy and buffer_destroy for everything, then
 *      client_destroy.
 *
 * Versioning
 *   LTC_PLUGIN_ABI_MAJOR changes when anything is removed, reordered or
 *   retyped; LTC_PLUGIN_ABI_MINOR changes when a slot, a struct field or an
 *   extension type is appended. Every bump gets an entry in
 *   plugin_api/CHANGELOG.md and a row in the golden offset table
 *   (tests/plugin_api_golden_offsets.h).
 *   - The first three fields of LtcPluginApi (struct_size, abi_major,
 *     abi_minor) never move, in any major version: any host can read the
 *     version of any plugin. ltc_plugin_query's signature never changes.
 *   - The version both sides speak is min(host, plugin) of one major. A host
 *     accepts a plugin of its own major and any minor, and never calls a
 *     slot that lies past the plugin's LtcPluginApi.struct_size.
 *   - Every struct that crosses starts with struct_size, which its writer
 *     sets to the LTC_<STRUCT>_STRUCT_SIZE of the header it was built
 *     against. A reader accepts any struct_size at least as large as the
 *     struct's size in the version that introduced it (the _2_0 macros for
 *     every 2.0 struct), never reads a field past the writer's struct_size
 *     (such fields take the default documented on them), and writes an out_
 *     field only where it lies inside struct_size.
 *   - Args structs are written by the host, including their out_ fields,
 *     which the host initialises to the defaults documented on them; the
 *     plugin overwrites those it knows.
 *   - Each struct also carries extension_start: a chain of extension structs
 *     (LtcExtensionBase). A reader skips extension types it does not know.
 *
 * Slots
 *   Every slot is REQUIRED or OPTIONAL, as marked. A plugin may leave an
 *   OPTIONAL slot NULL; the host then never calls it and does what the slot
 *   documents as its default. A REQUIRED slot that is NULL makes the table
 *   malformed, and the host refuses the plugin.
 *
 * Errors
 *   Slots that can fail return LtcError*: NULL on success, else an error
 *   object owned by the caller, released with error_destroy. On failure
 *   every out_ field is left at its default (NULL or zero), and nothing the
 *   call would have returned needs releasing.
 *
 * Asynchronous work
 *   executable_execute may return before its results are computed; its out_
 *   buffers are valid handles at once. An error in that work surfaces
 *   exactly once, from the first call after it to either
 *   - buffer_to_host of one of that execution's results, or
 *   - client_synchronize of the executable's device.
 *   The other of the two does not report that error again, nor does any
 *   later call. The failed execution's results hold no data from then on
 *   (buffer_get_info says so): buffer_to_host of them, or passing them to
 *   executable_execute, fails with LTC_ERROR_FAILED_PRECONDITION. A plugin
 *   whose work is done when execute returns reports errors from execute.
 *
 * Threads
 *   Unless a slot says otherwise, it may be called concurrently from any
 *   number of threads, on the same client and on different objects. Calls
 *   that use the same LtcBuffer may run concurrently, except that
 *   buffer_destroy must not race with any other use of that buffer, nor
 *   must an executable_execute that donates it (since 2.1); likewise
 *   executables and executable_destroy, clients and client_destroy.
 *
 * Strings and arrays
 *   const char* values are NUL-terminated UTF-8. Inputs (strings, arrays)
 *   are borrowed for the call unless stated. Outputs say who owns them.
 */
#ifndef LTC_PLUGIN_API_H_
#define LTC_PLUGIN_API_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dlpack/dlpack.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LTC_PLUGIN_ABI_MAJOR 2
#define LTC_PLUGIN_ABI_MINOR 1

/* Size of a struct up to and including `last_field`: what struct_size holds. */
#define LTC_STRUCT_SIZE(type, last_field) \
  (offsetof(type, last_field) + sizeof(((type*)0)->last_field))

/* Whether a struct the writer sized `struct_size` holds `field`. */
#define LTC_STRUCT_HAS_FIELD(type, struct_size, field) \
  (LTC_STRUCT_SIZE(type, field) <= (struct_size))

#if defined(_WIN32)
#define LTC_PLUGIN_EXPORT __declspec(dllexport)
#else
#define LTC_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* DLPack 0.6 has no boolean type. Booleans cross as this type code (kDLBool
 * from DLPack 0.8 on), 8 bits, 1 lane: one byte per element, 0 or 1. */
#define LTC_DL_BOOL_CODE 6

/* ------------------------------------------------------------------------ */
/* Opaque objects. Each is created and destroyed by the plugin.             */
/* ------------------------------------------------------------------------ */

typedef struct LtcError LtcError;           /* a failure: code + message    */
typedef struct LtcClient LtcClient;         /* an initialised backend       */
typedef struct LtcBuffer LtcBuffer;         /* data on one device           */
typedef struct LtcExecutable LtcExecutable; /* a graph compiled for a device */

/* Mirrors the canonical status codes of gRPC/absl. 0 is never returned in
 * an LtcError (success is a NULL error). */
typedef enum LtcErrorCode {
  LTC_ERROR_CANCELLED = 1,
  LTC_ERROR_UNKNOWN = 2,
  LTC_ERROR_INVALID_ARGUMENT = 3,
  LTC_ERROR_DEADLINE_EXCEEDED = 4,
  LTC_ERROR_NOT_FOUND = 5,
  LTC_ERROR_ALREADY_EXISTS = 6,
  LTC_ERROR_PERMISSION_DENIED = 7,
  LTC_ERROR_RESOURCE_EXHAUSTED = 8,
  LTC_ERROR_FAILED_PRECONDITION = 9,
  LTC_ERROR_ABORTED = 10,
  LTC_ERROR_OUT_OF_RANGE = 11,
  LTC_ERROR_UNIMPLEMENTED = 12,
  LTC_ERROR_INTERNAL = 13,
  LTC_ERROR_UNAVAILABLE = 14,
  LTC_ERROR_DATA_LOSS = 15,
  LTC_ERROR_UNAUTHENTICATED = 16
} LtcErrorCode;

/* ------------------------------------------------------------------------ */
/* Extensions (since 2.0).                                                   */
/* ------------------------------------------------------------------------ */

/* Identifies an extension struct. Values are assigned in this header, one
 * per extension, never reused; 0 is never a valid type. 2.0 defines none:
 * the chain exists so that later minors can add them. */
typedef uint32_t LtcExtensionType;

/* The head of every extension struct. An extension struct starts with this
 * base and may be linked from any struct's extension_start. A reader walks
 * the chain through `next` and skips every type it does not know; the
 * writer owns the chain, which is borrowed for the call that carries it. */
typedef struct LtcExtensionBase {
  size_t struct_size; /* of the whole extension struct */
  LtcExtensionType type;
  struct LtcExtensionBase* next; /* NULL ends the chain */
} LtcExtensionBase;
#define LTC_EXTENSION_BASE_STRUCT_SIZE_2_0 LTC_STRUCT_SIZE(LtcExtensionBase, next)
#define LTC_EXTENSION_BASE_STRUCT_SIZE LTC_EXTENSION_BASE_STRUCT_SIZE_2_0

/* ------------------------------------------------------------------------ */
/* Named values: client options (since 2.0).                                 */
/* ------------------------------------------------------------------------ */

typedef enum LtcValueType {
  LTC_VALUE_STRING = 1,
  LTC_VALUE_INT64 = 2,
  LTC_VALUE_DOUBLE = 3,
  LTC_VALUE_BOOL = 4
} LtcValueType;

/* One option, e.g. {"pool_mb", LTC_VALUE_INT64, .int64_value = 512}. Only
 * the field `type` names is meaningful. */
typedef struct LtcNamedValue {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  const char* name; /* non-NULL */
  LtcValueType type;
  const char* string_value; /* non-NULL for LTC_VALUE_STRING */
  int64_t int64_value;
  double double_value;
  bool bool_value;
} LtcNamedValue;
#define LTC_NAMED_VALUE_STRUCT_SIZE_2_0 LTC_STRUCT_SIZE(LtcNamedValue, bool_value)
#define LTC_NAMED_VALUE_STRUCT_SIZE LTC_NAMED_VALUE_STRUCT_SIZE_2_0

/* ------------------------------------------------------------------------ */
/* Host services (since 2.0): what a plugin may call back into.              */
/* ------------------------------------------------------------------------ */

typedef enum LtcLogLevel {
  LTC_LOG_TRACE = 0,
  LTC_LOG_DEBUG = 1,
  LTC_LOG_INFO = 2,
  LTC_LOG_WARN = 3,
  LTC_LOG_ERROR = 4
} LtcLogLevel;

/* Given to client_create; the struct and every function in it stay valid
 * until client_destroy returns. The functions take positional arguments,
 * unlike the slots, because they sit on hot paths; new services are
 * appended as new members. All of them may be called from any thread,
 * concurrently, and never fail. `context` is the host's, passed back as the
 * first argument of each. */
typedef struct LtcHostServices {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  void* context;

  /* Whether a message at `level` would be written: lets a plugin skip
   * formatting it. Non-NULL. */
  bool (*log_is_enabled)(void* context, LtcLogLevel level);
  /* Writes `message` (borrowed for the call; one line, no trailing newline)
   * to the host's log, tagged with the plugin's name. Non-NULL. */
  void (*log)(void* context, LtcLogLevel level, const char* message);

  /* Opens a trace event named `name` (borrowed for the call) on the calling
   * thread, e.g. for torch.profiler. Returns a token for trace_end, or NULL
   * when nobody is tracing (then trace_end is not needed). Non-NULL. */
  void* (*trace_begin)(void* context, const char* name);
  /* Closes the event `token` opened, on the thread that opened it, innermost
   * first. NULL is a no-op. Non-NULL. */
  void (*trace_end)(void* context, void* token);
} LtcHostServices;
#define LTC_HOST_SERVICES_STRUCT_SIZE_2_0 LTC_STRUCT_SIZE(LtcHostServices, trace_end)
#define LTC_HOST_SERVICES_STRUCT_SIZE LTC_HOST_SERVICES_STRUCT_SIZE_2_0

/* ------------------------------------------------------------------------ */
/* Graph formats: names in LtcClientCompileArgs.format. Adding one changes   */
/* no version; plugins list the ones they read in their attributes.         */
/* ------------------------------------------------------------------------ */

/* A TorchScript archive (what torch::jit::Module::save writes) whose
 * `forward(self, p0, p1, ...)` returns the lowered graph's results as one
 * tuple. Graph inputs are tensors, or float/int scalars where the argument
 * buffer was made by buffer_from_scalar. Reading it needs LibTorch. */
#define LTC_GRAPH_FORMAT_TORCHSCRIPT "torchscript-archive-v1"

/* The same graph without source to compile: what torch::jit::pickle_save
 * writes (torch::jit::pickle_load reads) for the tuple
 * (ir: str, constants: list). `ir` is the graph as Graph::toString prints
 * it and torch::jit::parseIR reads it: inputs p0, p1, ... as in
 * LTC_GRAPH_FORMAT_TORCHSCRIPT, then one input per constant the text does
 * not hold exactly (anything but ints, bools, None and finite floats:
 * tensors, lists, strings, ...), bound to `constants` in order, with the
 * input's type; outputs are the results, in order (no tuple). The host
 * writes it only where the text carries the graph faithfully, and sends an
 * archive instead where a plugin reads both. Reading it needs LibTorch. */
#define LTC_GRAPH_FORMAT_TORCHSCRIPT_IR "torchscript-ir-v1"

/* ------------------------------------------------------------------------ */
/* Args structs, one per slot. Each starts with struct_size and              */
/* extension_start; inputs come first, then out_ fields.                      */
/* ------------------------------------------------------------------------ */

/* -- Errors. `error` is non-NULL in each. -- */

typedef struct LtcErrorDestroyArgs {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  LtcError* error;
} LtcErrorDestroyArgs;
#define LTC_ERROR_DESTROY_ARGS_STRUCT_SIZE_2_0 LTC_STRUCT_SIZE(LtcErrorDestroyArgs, error)
#define LTC_ERROR_DESTROY_ARGS_STRUCT_SIZE LTC_ERROR_DESTROY_ARGS_STRUCT_SIZE_2_0

typedef struct LtcErrorGetCodeArgs {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  const LtcError* error;
  LtcErrorCode out_code; /* default: LTC_ERROR_UNKNOWN */
} LtcErrorGetCodeArgs;
#define LTC_ERROR_GET_CODE_ARGS_STRUCT_SIZE_2_0 LTC_STRUCT_SIZE(LtcErrorGetCodeArgs, out_code)
#define LTC_ERROR_GET_CODE_ARGS_STRUCT_SIZE LTC_ERROR_GET_CODE_ARGS_STRUCT_SIZE_2_0

typedef struct LtcErrorGetMessageArgs {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  const LtcError* error;
  /* Owned by `error`, valid until error_destroy; NUL-terminated, and
   * out_message_size bytes long without the NUL. Default: NULL, 0. */
  const char* out_message;
  size_t out_message_size;
} LtcErrorGetMessageArgs;
#define LTC_ERROR_GET_MESSAGE_ARGS_STRUCT_SIZE_2_0 \
  LTC_STRUCT_SIZE(LtcErrorGetMessageArgs, out_message_size)
#define LTC_ERROR_GET_MESSAGE_ARGS_STRUCT_SIZE LTC_ERROR_GET_MESSAGE_ARGS_STRUCT_SIZE_2_0

/* -- The plugin, before any client. -- */

typedef struct LtcPluginGetAttributesArgs {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  /* Every out_ string and array is static: owned by the plugin, valid while
   * it is loaded. */
  /* The short name users select ("ts_cpu"); matches the manifest's name.
   * Non-NULL on success. */
  const char* out_name;
  const char* out_version;     /* non-NULL on success */
  const char* out_description; /* non-NULL on success */
  const char* out_vendor;      /* who ships it; non-NULL on success */
  const char* out_build;       /* free text: compiler, date, commit; may be NULL */
  /* The LTC_GRAPH_FORMAT_* names the plugin reads in client_compile, most
   * preferred first; at least one. The host sends each graph in the first
   * format it can write. */
  const char* const* out_graph_formats;
  size_t out_num_graph_formats;
  /* "MAJOR.MINOR" of the LibTorch the plugin links, or NULL when it links
   * none. */
  const char* out_libtorch_version;
} LtcPluginGetAttributesArgs;
#define LTC_PLUGIN_GET_ATTRIBUTES_ARGS_STRUCT_SIZE_2_0 \
  LTC_STRUCT_SIZE(LtcPluginGetAttributesArgs, out_libtorch_version)
#define LTC_PLUGIN_GET_ATTRIBUTES_ARGS_STRUCT_SIZE LTC_PLUGIN_GET_ATTRIBUTES_ARGS_STRUCT_SIZE_2_0

typedef struct LtcPluginCheckAvailableArgs {
  size_t struct_size;
  LtcExtensionBase* extension_start;
} LtcPluginCheckAvailableArgs;
#define LTC_PLUGIN_CHECK_AVAILABLE_ARGS_STRUCT_SIZE_2_0 \
  LTC_STRUCT_SIZE(LtcPluginCheckAvailableArgs, extension_start)
#define LTC_PLUGIN_CHECK_AVAILABLE_ARGS_STRUCT_SIZE LTC_PLUGIN_CHECK_AVAILABLE_ARGS_STRUCT_SIZE_2_0

/* -- Clients. -- */

typedef struct LtcClientCreateArgs {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  /* The ABI version the host speaks (its LTC_PLUGIN_ABI_*). */
  uint32_t host_abi_major;
  uint32_t host_abi_minor;
  /* Name the host knows the plugin by (its manifest's name). May be NULL. */
  const char* plugin_name;
  /* num_options options; the array may be NULL when num_options is 0. A
   * plugin refuses an option it does not know, or a value of the wrong type
   * or range, with LTC_ERROR_INVALID_ARGUMENT naming the option and the ones
   * it knows. Options it is not given take its defaults. */
  const LtcNamedValue* const* options;
  size_t num_options;
  /* Non-NULL; see LtcHostServices for its lifetime. */
  const LtcHostServices* host_services;
  /* Owned by the caller until client_destroy. Default: NULL. */
  LtcClient* out_client;
} LtcClientCreateArgs;
#define LTC_CLIENT_CREATE_ARGS_STRUCT_SIZE_2_0 LTC_STRUCT_SIZE(LtcClientCreateArgs, out_client)
#define LTC_CLIENT_CREATE_ARGS_STRUCT_SIZE LTC_CLIENT_CREATE_ARGS_STRUCT_SIZE_2_0

typedef struct LtcClientDestroyArgs {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  LtcClient* client; /* NULL is a no-op */
} LtcClientDestroyArgs;
#define LTC_CLIENT_DESTROY_ARGS_STRUCT_SIZE_2_0 LTC_STRUCT_SIZE(LtcClientDestroyArgs, client)
#define LTC_CLIENT_DESTROY_ARGS_STRUCT_SIZE LTC_CLIENT_DESTROY_ARGS_STRUCT_SIZE_2_0

typedef struct LtcClientGetInfoArgs {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  LtcClient* client;
  /* Devices are ordinals 0 .. out_device_count-1; at least 1. Default: 0. */
  int32_t out_device_count;
  /* Where the host runs ops the backend cannot lower (the lazy core's eager
   * fallback): kDLCPU or kDLCUDA. Default: kDLCPU. */
  DLDeviceType out_eager_fallback_device;
} LtcClientGetInfoArgs;
#define LTC_CLIENT_GET_INFO_ARGS_STRUCT_SIZE_2_0 \
  LTC_STRUCT_SIZE(LtcClientGetInfoArgs, out_eager_fallback_device)
#define LTC_CLIENT_GET_INFO_ARGS_STRUCT_SIZE LTC_CLIENT_GET_INFO_ARGS_STRUCT_SIZE_2_0

typedef struct LtcClientGetDeviceInfoArgs {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  LtcClient* client;
  int32_t device_ordinal;
  /* Strings are owned by the client, valid until client_destroy. */
  /* A short lowercase name for the kind of device ("cpu", "cuda"); the same
   * for every device of a client. Default: NULL. */
  const char* out_kind;
  /* A name for people ("NVIDIA H200", "host CPU"). Default: NULL. */
  const char* out_name;
  /* Memory the device has, in bytes; 0 where unknown. Default: 0. */
  uint64_t out_memory_bytes;
} LtcClientGetDeviceInfoArgs;
#define LTC_CLIENT_GET_DEVICE_INFO_ARGS_STRUCT_SIZE_2_0 \
  LTC_STRUCT_SIZE(LtcClientGetDeviceInfoArgs, out_memory_bytes)
#define LTC_CLIENT_GET_DEVICE_INFO_ARGS_STRUCT_SIZE LTC_CLIENT_GET_DEVICE_INFO_ARGS_STRUCT_SIZE_2_0

typedef struct LtcClientSynchronizeArgs {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  LtcClient* client;
  int32_t device_ordinal;
} LtcClientSynchronizeArgs;
#define LTC_CLIENT_SYNCHRONIZE_ARGS_STRUCT_SIZE_2_0 \
  LTC_STRUCT_SIZE(LtcClientSynchronizeArgs, device_ordinal)
#define LTC_CLIENT_SYNCHRONIZE_ARGS_STRUCT_SIZE LTC_CLIENT_SYNCHRONIZE_ARGS_STRUCT_SIZE_2_0

typedef struct LtcClientSetRngSeedArgs {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  LtcClient* client;
  uint64_t seed;
} LtcClientSetRngSeedArgs;
#define LTC_CLIENT_SET_RNG_SEED_ARGS_STRUCT_SIZE_2_0 LTC_STRUCT_SIZE(LtcClientSetRngSeedArgs, seed)
#define LTC_CLIENT_SET_RNG_SEED_ARGS_STRUCT_SIZE LTC_CLIENT_SET_RNG_SEED_ARGS_STRUCT_SIZE_2_0

/* Counters for leak checks and tests. Defaults: 0. */
typedef struct LtcClientGetStatsArgs {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  LtcClient* client;
  uint64_t out_live_buffers;     /* buffers created and not yet destroyed */
  uint64_t out_live_executables; /* executables compiled and not destroyed */
  uint64_t out_compiles;         /* successful client_compile calls */
  uint64_t out_executes;         /* successful executable_execute calls */
} LtcClientGetStatsArgs;
#define LTC_CLIENT_GET_STATS_ARGS_STRUCT_SIZE_2_0 LTC_STRUCT_SIZE(LtcClientGetStatsArgs, out_executes)
#define LTC_CLIENT_GET_STATS_ARGS_STRUCT_SIZE LTC_CLIENT_GET_STATS_ARGS_STRUCT_SIZE_2_0

/* -- Buffers. Every out_buffer is owned by the caller until buffer_destroy.
 *    Default of every out_buffer: NULL. A dtype the plugin cannot hold, in
 *    any of the three slots that make buffers, fails with
 *    LTC_ERROR_UNIMPLEMENTED, so that a host can tell "not supported" from
 *    a malformed tensor (LTC_ERROR_INVALID_ARGUMENT). -- */

typedef struct LtcBufferFromHostArgs {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  LtcClient* client;
  /* Non-NULL, in host memory as its DLDevice says. Ownership passes to the
   * plugin in every case, success or failure: the plugin calls
   * tensor->deleter exactly once, when it no longer needs the memory, and
   * may alias the memory until then, so the host must not write to it. */
  DLManagedTensor* tensor;
  int32_t device_ordinal;
  LtcBuffer* out_buffer;
} LtcBufferFromHostArgs;
#define LTC_BUFFER_FROM_HOST_ARGS_STRUCT_SIZE_2_0 LTC_STRUCT_SIZE(LtcBufferFromHostArgs, out_buffer)
#define LTC_BUFFER_FROM_HOST_ARGS_STRUCT_SIZE LTC_BUFFER_FROM_HOST_ARGS_STRUCT_SIZE_2_0

/* A 0-dim buffer holding one value. Used as a graph input it binds to a
 * scalar (float/int) parameter. */
typedef struct LtcBufferFromScalarArgs {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  LtcClient* client;
  /* Integer and boolean (LTC_DL_BOOL_CODE) types take their value from
   * int64_value, floating types from double_value. */
  DLDataType dtype;
  int64_t int64_value;
  double double_value;
  int32_t device_ordinal;
  LtcBuffer* out_buffer;
} LtcBufferFromScalarArgs;
#define LTC_BUFFER_FROM_SCALAR_ARGS_STRUCT_SIZE_2_0 \
  LTC_STRUCT_SIZE(LtcBufferFromScalarArgs, out_buffer)
#define LTC_BUFFER_FROM_SCALAR_ARGS_STRUCT_SIZE LTC_BUFFER_FROM_SCALAR_ARGS_STRUCT_SIZE_2_0

/* A buffer with a dtype and shape but no data yet: it stands for a result
 * still to be computed. buffer_to_host on it fails with
 * LTC_ERROR_FAILED_PRECONDITION, and so does passing it to execute. */
typedef struct LtcBufferCreatePlaceholderArgs {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  LtcClient* client;
  DLDataType dtype;
  const int64_t* shape; /* ndim extents; may be NULL when ndim is 0 */
  int32_t ndim;
  int32_t device_ordinal;
  LtcBuffer* out_buffer;
} LtcBufferCreatePlaceholderArgs;
#define LTC_BUFFER_CREATE_PLACEHOLDER_ARGS_STRUCT_SIZE_2_0 \
  LTC_STRUCT_SIZE(LtcBufferCreatePlaceholderArgs, out_buffer)
#define LTC_BUFFER_CREATE_PLACEHOLDER_ARGS_STRUCT_SIZE \
  LTC_BUFFER_CREATE_PLACEHOLDER_ARGS_STRUCT_SIZE_2_0

/* The buffer's contents in host memory. Blocks until the data is ready. */
typedef struct LtcBufferToHostArgs {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  LtcClient* client;
  LtcBuffer* buffer;
  /* Owned by the caller, who calls its deleter once; stays valid after
   * buffer_destroy. It may alias the buffer's memory: the caller must not
   * write through it. Its deleter is non-NULL. Default: NULL. */
  DLManagedTensor* out_tensor;
} LtcBufferToHostArgs;
#define LTC_BUFFER_TO_HOST_ARGS_STRUCT_SIZE_2_0 LTC_STRUCT_SIZE(LtcBufferToHostArgs, out_tensor)
#define LTC_BUFFER_TO_HOST_ARGS_STRUCT_SIZE LTC_BUFFER_TO_HOST_ARGS_STRUCT_SIZE_2_0

/* A buffer's dtype, shape and device, which never change, and whether it
 * holds data. Never blocks. */
typedef struct LtcBufferGetInfoArgs {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  LtcClient* client;
  LtcBuffer* buffer;
  DLDataType out_dtype; /* default: all zero */
  int32_t out_device_ordinal;
  int32_t out_ndim;
  /* out_ndim extents, owned by the buffer, valid until buffer_destroy.
   * Default: NULL. */
  const int64_t* out_shape;
  /* False for a placeholder not yet given data, and for the result of an
   * execution that failed. Default: false. */
  bool out_has_data;
} LtcBufferGetInfoArgs;
#define LTC_BUFFER_GET_INFO_ARGS_STRUCT_SIZE_2_0 LTC_STRUCT_SIZE(LtcBufferGetInfoArgs, out_has_data)
#define LTC_BUFFER_GET_INFO_ARGS_STRUCT_SIZE LTC_BUFFER_GET_INFO_ARGS_STRUCT_SIZE_2_0

typedef struct LtcBufferDestroyArgs {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  LtcClient* client;
  LtcBuffer* buffer; /* NULL is a no-op */
} LtcBufferDestroyArgs;
#define LTC_BUFFER_DESTROY_ARGS_STRUCT_SIZE_2_0 LTC_STRUCT_SIZE(LtcBufferDestroyArgs, buffer)
#define LTC_BUFFER_DESTROY_ARGS_STRUCT_SIZE LTC_BUFFER_DESTROY_ARGS_STRUCT_SIZE_2_0

/* -- Executables. -- */

typedef struct LtcClientCompileArgs {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  LtcClient* client;
  /* One of the plugin's out_graph_formats; any other fails with
   * LTC_ERROR_UNIMPLEMENTED. */
  const char* format;
  /* The serialized graph, graph_size bytes; the plugin copies what it
   * keeps. */
  const void* graph;
  size_t graph_size;
  /* A stable key for the graph (hex), usable as a cache key. May be NULL. */
  const char* cache_key;
  /* The device the executable is for: it runs there, on buffers of that
   * device, and keeps its constants there. */
  int32_t device_ordinal;
  /* Owned by the caller until executable_destroy. Default: NULL. */
  LtcExecutable* out_executable;
} LtcClientCompileArgs;
#define LTC_CLIENT_COMPILE_ARGS_STRUCT_SIZE_2_0 LTC_STRUCT_SIZE(LtcClientCompileArgs, out_executable)
#define LTC_CLIENT_COMPILE_ARGS_STRUCT_SIZE LTC_CLIENT_COMPILE_ARGS_STRUCT_SIZE_2_0

typedef struct LtcExecutableGetInfoArgs {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  LtcClient* client;
  LtcExecutable* executable;
  size_t out_num_parameters; /* graph inputs; default 0 */
  size_t out_num_results;    /* graph results; default 0 */
  int32_t out_device_ordinal; /* the device it was compiled for; default 0 */
} LtcExecutableGetInfoArgs;
#define LTC_EXECUTABLE_GET_INFO_ARGS_STRUCT_SIZE_2_0 \
  LTC_STRUCT_SIZE(LtcExecutableGetInfoArgs, out_device_ordinal)
#define LTC_EXECUTABLE_GET_INFO_ARGS_STRUCT_SIZE LTC_EXECUTABLE_GET_INFO_ARGS_STRUCT_SIZE_2_0

/* Runs an executable on its device. Results may still be being computed on
 * return (see "Asynchronous work" above). */
typedef struct LtcExecutableExecuteArgs {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  LtcClient* client;
  LtcExecutable* executable;
  /* One buffer per graph input, in order, each on the executable's device
   * and holding data. The array and the buffers are borrowed for the call. */
  LtcBuffer* const* arguments;
  size_t num_arguments;
  /* Caller-allocated array of num_results entries; num_results must equal
   * the executable's out_num_results. On success every entry is a new
   * buffer on the executable's device, owned by the caller; on failure
   * every entry is NULL. */
  LtcBuffer** out_results;
  size_t num_results;

  /* -- Since 2.1 -- */
  /* NULL (the default: nothing donated), or num_arguments flags, borrowed
   * for the call. A true flag donates argument i: the caller promises never
   * to read it again, so the plugin may reuse its memory for the results.
   *   - A donated argument must not also be passed as another argument of
   *     the same call (LTC_ERROR_INVALID_ARGUMENT).
   *   - On success it holds no data from then on, whether or not the plugin
   *     reused it: buffer_get_info says so, and buffer_to_host of it, or
   *     passing it to executable_execute, fails with
   *     LTC_ERROR_FAILED_PRECONDITION. The caller still destroys it.
   *   - On failure it either holds its data unchanged, or holds none
   *     (buffer_get_info tells which); it never holds changed data.
   *   - Memory the plugin borrowed through buffer_from_host stays the
   *     caller's: a plugin never writes to it, donated or not.
   * A 2.0 plugin never reads the flags: its donated arguments keep their
   * data, so a caller must not rely on a donated argument being emptied. */
  const bool* donated_arguments;
} LtcExecutableExecuteArgs;
#define LTC_EXECUTABLE_EXECUTE_ARGS_STRUCT_SIZE_2_0 \
  LTC_STRUCT_SIZE(LtcExecutableExecuteArgs, num_results)
#define LTC_EXECUTABLE_EXECUTE_ARGS_STRUCT_SIZE_2_1 \
  LTC_STRUCT_SIZE(LtcExecutableExecuteArgs, donated_arguments)
#define LTC_EXECUTABLE_EXECUTE_ARGS_STRUCT_SIZE LTC_EXECUTABLE_EXECUTE_ARGS_STRUCT_SIZE_2_1

typedef struct LtcExecutableDestroyArgs {
  size_t struct_size;
  LtcExtensionBase* extension_start;
  LtcClient* client;
  LtcExecutable* executable; /* NULL is a no-op */
} LtcExecutableDestroyArgs;
#define LTC_EXECUTABLE_DESTROY_ARGS_STRUCT_SIZE_2_0 \
  LTC_STRUCT_SIZE(LtcExecutableDestroyArgs, executable)
#define LTC_EXECUTABLE_DESTROY_ARGS_STRUCT_SIZE LTC_EXECUTABLE_DESTROY_ARGS_STRUCT_SIZE_2_0

/* ------------------------------------------------------------------------ */
/* The function table.                                                       */
/* ------------------------------------------------------------------------ */

typedef void (*LtcErrorDestroyFn)(LtcErrorDestroyArgs* args);
typedef void (*LtcErrorGetCodeFn)(LtcErrorGetCodeArgs* args);
typedef void (*LtcErrorGetMessageFn)(LtcErrorGetMessageArgs* args);
typedef LtcError* (*LtcPluginGetAttributesFn)(LtcPluginGetAttributesArgs* args);
typedef LtcError* (*LtcPluginCheckAvailableFn)(LtcPluginCheckAvailableArgs* args);
typedef LtcError* (*LtcClientCreateFn)(LtcClientCreateArgs* args);
typedef LtcError* (*LtcClientDestroyFn)(LtcClientDestroyArgs* args);
typedef LtcError* (*LtcClientGetInfoFn)(LtcClientGetInfoArgs* args);
typedef LtcError* (*LtcClientGetDeviceInfoFn)(LtcClientGetDeviceInfoArgs* args);
typedef LtcError* (*LtcClientSynchronizeFn)(LtcClientSynchronizeArgs* args);
typedef LtcError* (*LtcClientSetRngSeedFn)(LtcClientSetRngSeedArgs* args);
typedef LtcError* (*LtcClientGetStatsFn)(LtcClientGetStatsArgs* args);
typedef LtcError* (*LtcBufferFromHostFn)(LtcBufferFromHostArgs* args);
typedef LtcError* (*LtcBufferFromScalarFn)(LtcBufferFromScalarArgs* args);
typedef LtcError* (*LtcBufferCreatePlaceholderFn)(LtcBufferCreatePlaceholderArgs* args);
typedef LtcError* (*LtcBufferToHostFn)(LtcBufferToHostArgs* args);
typedef LtcError* (*LtcBufferGetInfoFn)(LtcBufferGetInfoArgs* args);
typedef LtcError* (*LtcBufferDestroyFn)(LtcBufferDestroyArgs* args);
typedef LtcError* (*LtcClientCompileFn)(LtcClientCompileArgs* args);
typedef LtcError* (*LtcExecutableGetInfoFn)(LtcExecutableGetInfoArgs* args);
typedef LtcError* (*LtcExecutableExecuteFn)(LtcExecutableExecuteArgs* args);
typedef LtcError* (*LtcExecutableDestroyFn)(LtcExecutableDestroyArgs* args);

typedef struct LtcPluginApi {
  /* -- Never moves, in any version. -- */
  size_t struct_size; /* LTC_STRUCT_SIZE up to the plugin's last slot */
  uint32_t abi_major;
  uint32_t abi_minor;

  /* -- ABI 2.0 -- */
  LtcExtensionBase* extension_start;

  /* Errors. REQUIRED. Never fail; thread-safe for distinct errors.
   * error_destroy releases the error (every LtcError a slot returns). */
  LtcErrorDestroyFn error_destroy;
  LtcErrorGetCodeFn error_get_code;
  LtcErrorGetMessageFn error_get_message;

  /* REQUIRED. Static facts about the plugin; cheap, needs no client, may be
   * called before anything else and concurrently with anything. */
  LtcPluginGetAttributesFn plugin_get_attributes;
  /* OPTIONAL (NULL: always available). Whether the plugin can run here (GPU
   * present, runtime usable, ...): NULL, else an error saying why not, for a
   * person to read. Must not initialise a device or create contexts: hosts
   * call it when only listing plugins. May be called concurrently. */
  LtcPluginCheckAvailableFn plugin_check_available;

  /* REQUIRED. Initialises the backend. A plugin may refuse a second live
   * client with LTC_ERROR_FAILED_PRECONDITION. */
  LtcClientCreateFn client_create;
  /* REQUIRED. Releases the client. All its buffers and executables must
   * have been destroyed first. Must not race with any other call on the
   * client. Never fails. */
  LtcClientDestroyFn client_destroy;
  /* REQUIRED. Device count and eager fallback device; constant for the
   * life of the client. */
  LtcClientGetInfoFn client_get_info;
  /* REQUIRED. One device's description; constant for the life of the
   * client. An ordinal out of range fails with LTC_ERROR_OUT_OF_RANGE. */
  LtcClientGetDeviceInfoFn client_get_device_info;
  /* OPTIONAL (NULL: all work is done when the call that queued it returns,
   * so there is nothing to wait for). Waits until all work queued on the
   * device has finished; reports an asynchronous error as described above. */
  LtcClientSynchronizeFn client_synchronize;
  /* OPTIONAL (NULL: the plugin's graphs draw no random numbers of their
   * own, or cannot be seeded). Seeds the generators random ops in graphs
   * use. */
  LtcClientSetRngSeedFn client_set_rng_seed;
  /* OPTIONAL (NULL: the host reports no plugin counters). */
  LtcClientGetStatsFn client_get_stats;

  /* REQUIRED, all six. */
  LtcBufferFromHostFn buffer_from_host;
  LtcBufferFromScalarFn buffer_from_scalar;
  LtcBufferCreatePlaceholderFn buffer_create_placeholder;
  LtcBufferToHostFn buffer_to_host;
  LtcBufferGetInfoFn buffer_get_info;
  /* Never fails. */
  LtcBufferDestroyFn buffer_destroy;

  /* REQUIRED, all four. */
  LtcClientCompileFn client_compile;
  LtcExecutableGetInfoFn executable_get_info;
  LtcExecutableExecuteFn executable_execute;
  /* Never fails. */
  LtcExecutableDestroyFn executable_destroy;
} LtcPluginApi;

#define LTC_PLUGIN_API_STRUCT_SIZE_2_0 LTC_STRUCT_SIZE(LtcPluginApi, executable_destroy)
#define LTC_PLUGIN_API_STRUCT_SIZE LTC_PLUGIN_API_STRUCT_SIZE_2_0

/* The one symbol a plugin exports. Returns the plugin's table for a host
 * speaking host_abi_major.host_abi_minor, or NULL when the plugin cannot
 * serve that major. The table is static: owned by the plugin, valid until
 * the library is unloaded, and the same on every call. Must be cheap, must
 * not initialise devices, and may be called from any thread. Its signature
 * never changes. */
#define LTC_PLUGIN_QUERY_SYMBOL "ltc_plugin_query"
typedef const LtcPluginApi* (*LtcPluginQueryFn)(uint32_t host_abi_major,
                                               uint32_t host_abi_minor);
LTC_PLUGIN_EXPORT const LtcPluginApi* ltc_plugin_query(uint32_t host_abi_major,
                                                      uint32_t host_abi_minor);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LTC_PLUGIN_API_H_ */
