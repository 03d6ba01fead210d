using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Tora.Cli.Tests;

/// <summary>
/// Stand-in CUDA libraries, generated from what ONNX Runtime's CUDA provider imports, so that the real provider
/// can be created on a machine without a GPU (docs/gpu.md): every imported function of the CUDA runtime, cuBLAS,
/// cuBLASLt, cuRAND and the driver (read with <c>nm -D</c> and <c>objdump -p</c>) and every cuDNN entry point it
/// looks up by name (read from its strings) is exported by a small C library built with gcc, under the soname
/// and symbol version the provider asks for. "Device" memory is host memory and copies are memcpy; device
/// queries describe one compute capability 9.0 device with 80 GiB; every other call succeeds and does nothing,
/// so no kernel computes: session creation (partitioning, optimisation, kernel lookup) is real, results are not.
/// </summary>
public sealed partial class CudaStandIns
{
    /// <summary>cuDNN is loaded by name at run time (not a DT_NEEDED entry): ONNX Runtime 1.31 uses cuDNN 9.</summary>
    public const string CudnnLibrary = "libcudnn.so.9";

    private CudaStandIns(string folder, IReadOnlyDictionary<string, IReadOnlyList<string>> libraries)
    {
        Folder = folder;
        Libraries = libraries;
    }

    /// <summary>The folder holding the built libraries (put it on LD_LIBRARY_PATH).</summary>
    public string Folder { get; }

    /// <summary>Library soname → the functions it exports.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Libraries { get; }

    /// <summary>A copy of the libraries without <paramref name="soname"/>, in a folder of its own.</summary>
    public string FolderWithout(string soname)
    {
        var folder = Folder + "-without-" + soname;
        Directory.CreateDirectory(folder);
        foreach (var lib in Libraries.Keys.Where(l => l != soname)) File.Copy(Path.Combine(Folder, lib), Path.Combine(folder, lib), overwrite: true);
        return folder;
    }

    /// <summary>Generates and builds the stand-ins for <paramref name="provider"/> (libonnxruntime_providers_cuda.so) into <paramref name="folder"/>.</summary>
    public static CudaStandIns Build(string provider, string folder)
    {
        Directory.CreateDirectory(folder);
        var libraries = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        foreach (Match m in NeededCudaLibrary().Matches(Tool("objdump", "-p", provider)))
            libraries.TryAdd(m.Groups[1].Value, new SortedSet<string>(StringComparer.Ordinal));
        foreach (var line in Tool("nm", "-D", "--undefined-only", provider).Split('\n'))
        {
            var symbol = line.Trim().Split(' ').Last();
            var versioned = VersionedImport().Match(symbol);
            if (versioned.Success && libraries.TryGetValue(versioned.Groups[2].Value, out var set)) set.Add(versioned.Groups[1].Value);
            // Unversioned driver API imports (cuTensorMapEncodeTiled) resolve against libcuda.
            else if (DriverImport().IsMatch(symbol) && libraries.TryGetValue("libcuda.so.1", out var driver)) driver.Add(symbol);
        }
        var cudnn = new SortedSet<string>(StringComparer.Ordinal);
        foreach (Match m in CudnnName().Matches(Encoding.Latin1.GetString(File.ReadAllBytes(provider)))) cudnn.Add(m.Groups[1].Value);
        libraries[CudnnLibrary] = cudnn;

        foreach (var (soname, functions) in libraries)
        {
            var source = Path.Combine(folder, soname + ".c");
            var map = Path.Combine(folder, soname + ".map");
            File.WriteAllText(source, CSource(functions));
            // The provider asks for symbol version "libcudart.so.13" etc.: the version node is the soname.
            File.WriteAllText(map, soname + " { global: *; };\n");
            Tool("gcc", "-O1", "-shared", "-fPIC", "-w", "-o", Path.Combine(folder, soname), "-Wl,-soname," + soname, "-Wl,--version-script=" + map, source);
        }
        return new CudaStandIns(folder, libraries.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<string>)kv.Value.ToList()));
    }

    private static string CSource(IEnumerable<string> functions)
    {
        var c = new StringBuilder(Prelude);
        foreach (var f in functions) c.AppendLine(Body(f));
        return c.ToString();
    }

    /// <summary>The C definition of <paramref name="name"/>: a behaviour from <see cref="Behaviours"/>, a handle maker, or "succeed, do nothing".</summary>
    private static string Body(string name)
    {
        if (Behaviours.TryGetValue(name, out var body)) return "API " + body;
        if (name.Contains("GetErrorString", StringComparison.Ordinal) || name.Contains("GetErrorName", StringComparison.Ordinal) || name.Contains("GetStatus", StringComparison.Ordinal))
            return $"API const char* {name}(int code) {{ return \"CUDA stand-in (no GPU)\"; }}";
        // Creators hand out distinct non-null handles through their first argument.
        if (CreatorName().IsMatch(name)) return $"API int {name}(void** out) {{ *out = handle(); return 0; }}";
        return $"API int {name}(void) {{ return 0; }}";
    }

    private const string Prelude = """
        #include <stdint.h>
        #include <stdlib.h>
        #include <string.h>
        #define API __attribute__((visibility("default")))
        static uintptr_t last_handle = 0x10000;
        static void* handle(void) { last_handle += 64; return (void*)last_handle; }
        static void* host_block(size_t n) { void* p = NULL; return posix_memalign(&p, 256, n ? n : 1) == 0 ? memset(p, 0, n ? n : 1) : NULL; }
        /* The leading fields of cudaDeviceProp (CUDA 12 and 13 agree on them). */
        struct device_prop_head {
          char name[256]; unsigned char uuid[16]; char luid[8]; unsigned luid_mask;
          size_t total_global_mem, shared_mem_per_block; int regs_per_block, warp_size; size_t mem_pitch;
          int max_threads_per_block, max_threads_dim[3], max_grid_size[3]; size_t total_const_mem; int major, minor;
        };
        /* cudnnConvolutionFwdAlgoPerf_t */
        struct conv_perf { int algo, status; float time; size_t memory; int determinism, math_type, reserved[3]; };

        """;

    /// <summary>Functions whose callers read what they write.</summary>
    private static readonly Dictionary<string, string> Behaviours = new(StringComparer.Ordinal)
    {
        ["cudaGetDeviceCount"] = "int cudaGetDeviceCount(int* n) { *n = 1; return 0; }",
        ["cudaGetDevice"] = "int cudaGetDevice(int* d) { *d = 0; return 0; }",
        ["cudaRuntimeGetVersion"] = "int cudaRuntimeGetVersion(int* v) { *v = 13000; return 0; }",
        ["cudaDriverGetVersion"] = "int cudaDriverGetVersion(int* v) { *v = 13000; return 0; }",
        ["cudaGetDeviceProperties"] = """
            int cudaGetDeviceProperties(struct device_prop_head* p, int device) {
              memset(p, 0, 1024); strcpy(p->name, "CUDA stand-in sm_90");
              p->total_global_mem = 80ull << 30; p->shared_mem_per_block = 48 << 10; p->regs_per_block = 65536; p->warp_size = 32;
              p->mem_pitch = 0x7fffffff; p->max_threads_per_block = 1024;
              p->max_threads_dim[0] = 1024; p->max_threads_dim[1] = 1024; p->max_threads_dim[2] = 64;
              p->max_grid_size[0] = 0x7fffffff; p->max_grid_size[1] = 65535; p->max_grid_size[2] = 65535;
              p->total_const_mem = 65536; p->major = 9; p->minor = 0; return 0; }
            """,
        // cudaDevAttr: 1 max threads/block, 8 shared mem/block, 10 warp size, 16 SM count, 39 max threads/SM,
        // 75/76 compute capability, 81 shared mem/SM, 97 opt-in shared mem/block.
        ["cudaDeviceGetAttribute"] = """
            int cudaDeviceGetAttribute(int* v, int attribute, int device) {
              switch (attribute) { case 1: *v = 1024; break; case 8: *v = 48 << 10; break; case 10: *v = 32; break; case 16: *v = 132; break;
                case 39: *v = 2048; break; case 75: *v = 9; break; case 76: *v = 0; break; case 81: *v = 228 << 10; break;
                case 97: *v = 227 << 10; break; default: *v = 0; }
              return 0; }
            """,
        ["cudaMemGetInfo"] = "int cudaMemGetInfo(size_t* free_bytes, size_t* total) { *free_bytes = 79ull << 30; *total = 80ull << 30; return 0; }",
        ["cudaMalloc"] = "int cudaMalloc(void** p, size_t n) { *p = host_block(n); return *p ? 0 : 2; }",
        ["cudaMallocHost"] = "int cudaMallocHost(void** p, size_t n) { *p = host_block(n); return *p ? 0 : 2; }",
        ["cudaHostAlloc"] = "int cudaHostAlloc(void** p, size_t n, unsigned flags) { *p = host_block(n); return *p ? 0 : 2; }",
        ["cudaMallocFromPoolAsync"] = "int cudaMallocFromPoolAsync(void** p, size_t n, void* pool, void* stream) { *p = host_block(n); return *p ? 0 : 2; }",
        ["cudaFree"] = "int cudaFree(void* p) { free(p); return 0; }",
        ["cudaFreeHost"] = "int cudaFreeHost(void* p) { free(p); return 0; }",
        ["cudaFreeAsync"] = "int cudaFreeAsync(void* p, void* stream) { free(p); return 0; }",
        ["cudaMemcpy"] = "int cudaMemcpy(void* d, const void* s, size_t n, int kind) { if (n) memmove(d, s, n); return 0; }",
        ["cudaMemcpyAsync"] = "int cudaMemcpyAsync(void* d, const void* s, size_t n, int kind, void* stream) { if (n) memmove(d, s, n); return 0; }",
        ["cudaMemcpy2DAsync"] = """
            int cudaMemcpy2DAsync(void* d, size_t dpitch, const void* s, size_t spitch, size_t width, size_t height, int kind, void* stream) {
              for (size_t r = 0; r < height; r++) memmove((char*)d + r * dpitch, (const char*)s + r * spitch, width); return 0; }
            """,
        ["cudaMemcpyFromSymbol"] = "int cudaMemcpyFromSymbol(void* d, const void* symbol, size_t n, size_t offset, int kind) { memmove(d, (const char*)symbol + offset, n); return 0; }",
        ["cudaMemset"] = "int cudaMemset(void* d, int v, size_t n) { memset(d, v, n); return 0; }",
        ["cudaMemsetAsync"] = "int cudaMemsetAsync(void* d, int v, size_t n, void* stream) { memset(d, v, n); return 0; }",
        // cudaPointerAttributes { type, device, devicePointer, hostPointer }: 2 = device memory.
        ["cudaPointerGetAttributes"] = "int cudaPointerGetAttributes(int* a, const void* p) { a[0] = 2; a[1] = 0; ((const void**)a)[1] = p; ((const void**)a)[2] = p; return 0; }",
        ["cudaStreamIsCapturing"] = "int cudaStreamIsCapturing(void* stream, int* status) { *status = 0; return 0; }",
        ["cudaStreamEndCapture"] = "int cudaStreamEndCapture(void* stream, void** graph) { *graph = handle(); return 0; }",
        ["cudaEventElapsedTime"] = "int cudaEventElapsedTime(float* ms, void* start, void* end) { *ms = 0; return 0; }",
        ["cudaGraphInstantiate"] = "int cudaGraphInstantiate(void** exec, void* graph, unsigned long long flags) { *exec = handle(); return 0; }",
        ["cudaLibraryLoadData"] = "int cudaLibraryLoadData(void** library) { *library = handle(); return 0; }",
        ["cudaLibraryGetKernel"] = "int cudaLibraryGetKernel(void** kernel) { *kernel = handle(); return 0; }",
        ["__cudaGetKernel"] = "int __cudaGetKernel(void** kernel, const void* function) { *kernel = handle(); return 0; }",
        ["cudaOccupancyMaxActiveBlocksPerMultiprocessorWithFlags"] = "int cudaOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int* blocks) { *blocks = 1; return 0; }",
        // No driver entry points: callers fall back to what the runtime offers (cudaErrorSymbolNotFound = 500).
        ["cudaGetDriverEntryPointByVersion"] = "int cudaGetDriverEntryPointByVersion(const char* symbol, void** f, unsigned v, unsigned long long flags, int* status) { *f = NULL; if (status) *status = 1; return 500; }",
        ["cudaLaunchHostFunc"] = "int cudaLaunchHostFunc(void* stream, void (*f)(void*), void* data) { f(data); return 0; }",
        ["__cudaRegisterFatBinary"] = "void** __cudaRegisterFatBinary(void* fatbin) { static void* h[16]; return h; }",
        ["__cudaPopCallConfiguration"] = "int __cudaPopCallConfiguration(void* grid, void* block, size_t* shared, void** stream) { memset(grid, 0, 12); memset(block, 0, 12); *shared = 0; *stream = NULL; return 0; }",
        ["cublasGetMathMode"] = "int cublasGetMathMode(void* h, int* mode) { *mode = 0; return 0; }",
        ["cublasLtMatmulAlgoGetHeuristic"] = "int cublasLtMatmulAlgoGetHeuristic(void* h, void* op, void* a, void* b, void* c, void* d, void* pref, int requested, void* results, int* count) { *count = 0; return 0; }",
        ["cudnnGetVersion"] = "size_t cudnnGetVersion(void) { return 91400; }",
        ["cudnnGetLastErrorString"] = "void cudnnGetLastErrorString(char* message, size_t n) { if (message && n) message[0] = 0; }",
        ["cudnnGetStream"] = "int cudnnGetStream(void* h, void** stream) { *stream = NULL; return 0; }",
        ["cudnnBackendCreateDescriptor"] = "int cudnnBackendCreateDescriptor(int type, void** d) { *d = handle(); return 0; }",
        ["cudnnGetConvolutionForwardWorkspaceSize"] = "int cudnnGetConvolutionForwardWorkspaceSize(void* h, void* x, void* w, void* conv, void* y, int algo, size_t* size) { *size = 0; return 0; }",
        // One algorithm (0) needing no workspace; the convolution itself then computes nothing.
        ["cudnnFindConvolutionForwardAlgorithmEx"] = """
            int cudnnFindConvolutionForwardAlgorithmEx(void* h, void* xd, const void* x, void* wd, const void* w, void* cd, void* yd, void* y,
                int requested, int* returned, struct conv_perf* perf, void* workspace, size_t workspace_size) {
              memset(perf, 0, sizeof *perf); *returned = 1; return 0; }
            """,
        ["cudnnGetConvolutionForwardAlgorithm_v7"] = """
            int cudnnGetConvolutionForwardAlgorithm_v7(void* h, void* xd, void* wd, void* cd, void* yd, int requested, int* returned, struct conv_perf* perf) {
              memset(perf, 0, sizeof *perf); *returned = 1; return 0; }
            """,
    };

    private static string Tool(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({p.ExitCode}): {stderr}");
        return stdout.Result;
    }

    [GeneratedRegex(@"NEEDED\s+(libcu[a-zA-Z]*\.so\.\d+)")]
    private static partial Regex NeededCudaLibrary();

    [GeneratedRegex(@"^(.+)@(libcu[a-zA-Z]*\.so\.\d+)$")]
    private static partial Regex VersionedImport();

    [GeneratedRegex(@"^cu[A-Z]\w+$")]
    private static partial Regex DriverImport();

    [GeneratedRegex(@"(?<=\0)(cudnn[A-Z]\w+)(?=\0)")]
    private static partial Regex CudnnName();

    [GeneratedRegex(@"(Create\w*Descriptor|^cudnnCreate$|^cublasCreate_v2$|^cublasLtCreate$|^cublasLt\w+Create$|^cudaStreamCreate\w*$|^cudaEventCreate\w*$|^cudaMemPoolCreate$)")]
    private static partial Regex CreatorName();
}
