/*
 * ltc/plugin_api.h: the stable C ABI between an ltc-plugins host and a
 * Lazy Tensor Core backend plugin.
 *
 * This header is the whole contract. Nothing C++ crosses it: no exceptions,
 * no STL types, no LibTorch types. Tensors cross as DLPack.
 *
 * Discovery
 *   A plugin is a shared object exporting one C symbol, ltc_plugin_query()
 *   (LTC_PLUGIN_QUERY_SYMBOL), which returns the plugin's function table.
 *
 * Versioning
 *   LTC_PLUGIN_ABI_MAJOR changes when anything is removed, reordered or
 *   retyped; LTC_PLUGIN_ABI_MINOR changes when a slot or a field is appended.
 *   Every bump gets a line in plugin_api/CHANGELOG.md.
 *   - The first three fields of LtcPluginApi (struct_size, abi_major,
 *     abi_minor) never move, in any major version: any host can read the
 *     version of any plugin.
 *   - A host accepts a plugin of its own major and any minor. It never calls
 *     a slot that lies past the plugin's LtcPluginApi.struct_size, so a plugin
 *     built against an older minor simply lacks the newer slots.
 *   - Every struct that crosses the boundary starts with struct_size, which
 *     the writer sets to the LTC_..._STRUCT_SIZE of the header it was built
 *     against. A reader never reads a field past the writer's struct_size;
 *     fields past it take the default documented on them.
 *
 * Errors
 *   Functions that can fail return LtcError*: NULL on success, else an error
 *   object owned by the caller, released with LtcPluginApi.error_destroy.
 *   On failure every out_ parameter is left NULL or zero.
 *
 * Threads
 *   Unless a function says otherwise, it may be called concurrently from any
 *   number of threads, on the same client and on different objects. Calls
 *   that touch the same LtcBuffer may run concurrently, except that
 *   buffer_destroy must not race with any other use of that buffer; likewise
 *   for executables and executable_destroy.
 *
 * Strings
 *   const char* results are NUL-terminated UTF-8. Ownership is stated on each.
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

#define LTC_PLUGIN_ABI_MAJOR 1
#define LTC_PLUGIN_ABI_MINOR 1

/* Size of a struct up to and including `last_field`: what struct_size holds. */
#define LTC_STRUCT_SIZE(type, last_field) \
  (offsetof(type, last_field) + sizeof(((type*)0)->last_field))

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
typedef struct LtcBuffer LtcBuffer;         /* data on a device             */
typedef struct LtcExecutable LtcExecutable; /* a compiled graph             */

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
/* Argument structs (host -> plugin).                                        */
/* ------------------------------------------------------------------------ */

typedef struct LtcClientCreateArgs {
  size_t struct_size;
  /* Name the host knows the plugin by (manifest name); for log messages.
   * Borrowed for the call. May be NULL. */
  const char* plugin_name;
} LtcClientCreateArgs;
#define LTC_CLIENT_CREATE_ARGS_STRUCT_SIZE \
  LTC_STRUCT_SIZE(LtcClientCreateArgs, plugin_name)

/* A host value that becomes a 0-dim device buffer. */
typedef struct LtcScalar {
  size_t struct_size;
  /* The buffer's dtype. Integer and boolean (LTC_DL_BOOL_CODE) types take
   * their value from `i`, floating types from `f`. */
  DLDataType dtype;
  int64_t i;
  double f;
} LtcScalar;
#define LTC_SCALAR_STRUCT_SIZE LTC_STRUCT_SIZE(LtcScalar, f)

typedef struct LtcCompileArgs {
  size_t struct_size;
  /* Names the serialization of `graph`, e.g. LTC_GRAPH_FORMAT_TORCHSCRIPT.
   * A plugin that does not read this format returns LTC_ERROR_UNIMPLEMENTED. */
  const char* format;
  /* The serialized graph. Borrowed for the call; the plugin copies what it
   * keeps. */
  const void* graph;
  size_t graph_size;
  /* A stable key for the graph (the lazy core's graph hash, hex), usable as
   * a cache key. Borrowed for the call. May be NULL. */
  const char* cache_key;
  /* Device the executable will run on. */
  int32_t device_ordinal;
} LtcCompileArgs;
#define LTC_COMPILE_ARGS_STRUCT_SIZE \
  LTC_STRUCT_SIZE(LtcCompileArgs, device_ordinal)

/* A TorchScript archive (what torch::jit::Module::save writes) whose
 * `forward(self, p0, p1, ...)` is the lowered graph. Graph inputs are
 * tensors, or float/int scalars where the argument buffer was made by
 * buffer_from_scalar. Outputs are tensors, in order. */
#define LTC_GRAPH_FORMAT_TORCHSCRIPT "torchscript-archive-v1"

/* The same graph without source to compile: what torch::jit::pickle_save
 * writes (torch::jit::pickle_load reads) for the tuple
 * (ir: str, constants: list). `ir` is the graph as Graph::toString prints
 * it and torch::jit::parseIR reads it: inputs p0, p1, ... as in
 * LTC_GRAPH_FORMAT_TORCHSCRIPT, then one input per constant the text does
 * not hold exactly (anything but ints, bools, None and finite floats:
 * tensors, lists, strings, ...), bound to `constants` in order, with the
 * input's type; outputs are the results, in order (no tuple). A host offers it where the text carries the graph
 * faithfully, and sends the archive instead to a plugin that answers
 * LTC_ERROR_UNIMPLEMENTED. Reading it is optional. */
#define LTC_GRAPH_FORMAT_TORCHSCRIPT_IR "torchscript-ir-v1"

typedef struct LtcExecuteArgs {
  size_t struct_size;
  LtcExecutable* executable;
  int32_t device_ordinal;
  /* One buffer per graph input, in order. The array and the buffers are
   * borrowed for the call; none may be a placeholder. */
  LtcBuffer* const* arguments;
  size_t num_arguments;
  /* Caller-allocated array of num_results entries, which must equal
   * executable_num_results(). On success every entry is a new buffer owned
   * by the caller; on failure every entry is NULL. */
  LtcBuffer** out_results;
  size_t num_results;
} LtcExecuteArgs;
#define LTC_EXECUTE_ARGS_STRUCT_SIZE LTC_STRUCT_SIZE(LtcExecuteArgs, num_results)

/* ------------------------------------------------------------------------ */
/* Result structs (plugin -> host). The host sets struct_size to what it     */
/* knows; the plugin writes only fields that fit.                            */
/* ------------------------------------------------------------------------ */

typedef struct LtcBufferInfo {
  size_t struct_size;
  DLDataType dtype;
  int32_t device_ordinal;
  int32_t ndim;
  /* ndim extents, owned by the buffer, valid until buffer_destroy. */
  const int64_t* shape;
  /* False for a placeholder that has not been given data. */
  bool has_data;
} LtcBufferInfo;
#define LTC_BUFFER_INFO_STRUCT_SIZE LTC_STRUCT_SIZE(LtcBufferInfo, has_data)

/* Since ABI 1.1. Counters for leak checks and for tests. */
typedef struct LtcClientStats {
  size_t struct_size;
  uint64_t live_buffers;     /* buffers created and not yet destroyed */
  uint64_t live_executables; /* executables compiled and not destroyed */
  uint64_t compiles;         /* successful compile calls */
  uint64_t executes;         /* successful execute calls */
} LtcClientStats;
#define LTC_CLIENT_STATS_STRUCT_SIZE LTC_STRUCT_SIZE(LtcClientStats, executes)

/* ------------------------------------------------------------------------ */
/* The function table.                                                       */
/* ------------------------------------------------------------------------ */

typedef struct LtcPluginApi {
  /* -- Never moves, in any version. -- */
  size_t struct_size; /* LTC_STRUCT_SIZE up to the plugin's last slot */
  uint32_t abi_major;
  uint32_t abi_minor;

  /* -- ABI 1.0 -- */

  /* Static strings owned by the plugin, valid while it is loaded. Non-NULL.
   * `name` is the short name users select (e.g. "ts_cpu"). */
  const char* name;
  const char* version;
  const char* description;

  /* Errors. `error` is non-NULL. error_message's result is owned by `error`
   * and valid until error_destroy. Thread-safe for distinct errors. */
  void (*error_destroy)(LtcError* error);
  LtcErrorCode (*error_code)(const LtcError* error);
  const char* (*error_message)(const LtcError* error);

  /* Whether this plugin can run here (GPU present, runtime usable, ...).
   * NULL means available; else the error says why not, for a person to read.
   * Must not initialise a device or create contexts: hosts call it when only
   * listing plugins. May be called before client_create and concurrently. */
  LtcError* (*plugin_check_available)(void);

  /* Initialises the backend. `args` is borrowed for the call. On success
   * *out_client is owned by the caller until client_destroy. A plugin may
   * refuse a second live client with LTC_ERROR_FAILED_PRECONDITION. */
  LtcError* (*client_create)(const LtcClientCreateArgs* args,
                             LtcClient** out_client);
  /* Releases the client. All its buffers and executables must have been
   * destroyed first. Must not race with any other call on the client. */
  void (*client_destroy)(LtcClient* client);

  /* Devices. Ordinals are 0 .. count-1. */
  LtcError* (*client_device_count)(LtcClient* client, int32_t* out_count);
  /* A short lowercase name for the kind of device ("cpu", "cuda"); owned by
   * the client, valid until client_destroy. */
  LtcError* (*client_device_kind)(LtcClient* client, const char** out_kind);
  /* Where the host should run ops the backend cannot lower (the lazy core's
   * eager fallback): kDLCPU or kDLCUDA. */
  LtcError* (*client_eager_fallback_device)(LtcClient* client,
                                            DLDeviceType* out_type);

  /* Buffers. Every buffer returned is owned by the caller until
   * buffer_destroy. */

  /* Takes ownership of `tensor` (non-NULL, host memory as its DLDevice says)
   * in every case, success or failure: the plugin calls tensor->deleter
   * exactly once, when it no longer needs the memory. The plugin may keep
   * aliasing the memory instead of copying it, so the host must not write
   * to it after this call. */
  LtcError* (*buffer_from_host)(LtcClient* client, DLManagedTensor* tensor,
                                int32_t device_ordinal, LtcBuffer** out_buffer);
  /* A 0-dim buffer holding `scalar` (borrowed for the call). Used as a graph
   * input it binds to a scalar (float/int) parameter. */
  LtcError* (*buffer_from_scalar)(LtcClient* client, const LtcScalar* scalar,
                                  int32_t device_ordinal,
                                  LtcBuffer** out_buffer);
  /* A buffer with a dtype and shape but no data yet; it stands for a result
   * that is still being computed. `shape` (ndim entries, NULL if ndim is 0)
   * is borrowed for the call. buffer_to_host on it fails with
   * LTC_ERROR_FAILED_PRECONDITION. */
  LtcError* (*buffer_create_placeholder)(LtcClient* client, DLDataType dtype,
                                         const int64_t* shape, int32_t ndim,
                                         int32_t device_ordinal,
                                         LtcBuffer** out_buffer);
  /* The buffer's contents as a DLPack tensor in host memory. On success
   * *out_tensor is owned by the caller, who calls its deleter once; it stays
   * valid after buffer_destroy. It may alias the buffer's memory: the caller
   * must not write through it. Blocks until the data is ready. */
  LtcError* (*buffer_to_host)(LtcClient* client, LtcBuffer* buffer,
                              DLManagedTensor** out_tensor);
  /* Fills *info (info->struct_size set by the caller). */
  LtcError* (*buffer_get_info)(LtcClient* client, LtcBuffer* buffer,
                               LtcBufferInfo* info);
  /* Releases the buffer. NULL is a no-op. */
  void (*buffer_destroy)(LtcClient* client, LtcBuffer* buffer);

  /* Compiles a serialized graph. `args` is borrowed for the call. On success
   * *out_executable is owned by the caller until executable_destroy. */
  LtcError* (*compile)(LtcClient* client, const LtcCompileArgs* args,
                       LtcExecutable** out_executable);
  /* Number of graph inputs and results. */
  LtcError* (*executable_num_parameters)(LtcClient* client,
                                         LtcExecutable* executable,
                                         size_t* out_count);
  LtcError* (*executable_num_results)(LtcClient* client,
                                      LtcExecutable* executable,
                                      size_t* out_count);
  /* Releases the executable. NULL is a no-op. */
  void (*executable_destroy)(LtcClient* client, LtcExecutable* executable);

  /* Runs an executable. `args` is borrowed for the call. Results may still
   * be being computed on return; buffer_to_host and synchronize wait. */
  LtcError* (*execute)(LtcClient* client, const LtcExecuteArgs* args);

  /* Waits until all work queued on the device has finished. */
  LtcError* (*synchronize)(LtcClient* client, int32_t device_ordinal);

  /* Seeds the random number generators random ops in graphs use. */
  LtcError* (*set_rng_seed)(LtcClient* client, uint64_t seed);

  /* -- ABI 1.1 -- */

  /* Fills *stats (stats->struct_size set by the caller). */
  LtcError* (*client_get_stats)(LtcClient* client, LtcClientStats* stats);
} LtcPluginApi;

#define LTC_PLUGIN_API_STRUCT_SIZE_1_0 \
  LTC_STRUCT_SIZE(LtcPluginApi, set_rng_seed)
#define LTC_PLUGIN_API_STRUCT_SIZE_1_1 \
  LTC_STRUCT_SIZE(LtcPluginApi, client_get_stats)
#define LTC_PLUGIN_API_STRUCT_SIZE LTC_PLUGIN_API_STRUCT_SIZE_1_1

/* The one symbol a plugin exports. Returns the plugin's table for a host
 * speaking host_abi_major.host_abi_minor, or NULL when the plugin cannot
 * serve that major. The table is static: owned by the plugin, valid until
 * the library is unloaded. Must be cheap, must not initialise devices, and
 * may be called from any thread. */
#define LTC_PLUGIN_QUERY_SYMBOL "ltc_plugin_query"
typedef const LtcPluginApi* (*LtcPluginQueryFn)(uint32_t host_abi_major,
                                               uint32_t host_abi_minor);
LTC_PLUGIN_EXPORT const LtcPluginApi* ltc_plugin_query(uint32_t host_abi_major,
                                                      uint32_t host_abi_minor);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LTC_PLUGIN_API_H_ */
