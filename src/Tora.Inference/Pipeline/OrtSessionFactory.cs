using Microsoft.ML.OnnxRuntime;
using Tora.Contracts;

namespace Tora.Inference.Pipeline;

/// <summary>
/// Chooses the execution provider once and creates sessions with it. CUDA is tried by appending it to a probe
/// <see cref="SessionOptions"/> (ONNX Runtime throws <see cref="OnnxRuntimeException"/> there when the CUDA
/// provider library or the CUDA runtime cannot be loaded) and then running a tiny Conv on the device
/// (<see cref="CudaProbe"/>), which loads cuDNN and proves the device computes. On CUDA every session is created
/// with the CPU fallback disabled (<see cref="DisableCpuFallback"/>): a node without a CUDA kernel fails the
/// session instead of running on the CPU (docs/gpu.md). In
/// <see cref="ExecutionProviderChoice.Auto"/> mode the factory then falls back to the CPU and logs which provider
/// it uses and why; it never falls back silently, and an explicit CUDA request fails instead.
/// </summary>
public sealed class OrtSessionFactory
{
    /// <summary>ONNX Runtime's name of the CUDA provider.</summary>
    public const string CudaProvider = "CUDAExecutionProvider";

    /// <summary>ONNX Runtime's name of the CPU provider.</summary>
    public const string CpuProvider = "CPUExecutionProvider";

    /// <summary>The session config key that makes session creation fail when a node would fall back to the CPU provider.</summary>
    public const string DisableCpuFallback = "session.disable_cpu_ep_fallback";

    private readonly ExecutionOptions _options;

    /// <summary>Chooses the provider for <paramref name="options"/> and logs the choice.</summary>
    /// <exception cref="GenerationException">CUDA was required but cannot be used.</exception>
    public OrtSessionFactory(ExecutionOptions options)
    {
        _options = options;
        var log = options.Log ?? (_ => { });
        if (options.Provider == ExecutionProviderChoice.Cpu)
        {
            ProviderName = CpuProvider;
            Reason = "the CPU provider was requested";
        }
        else if (TryCuda(options.DeviceId, !options.SkipDeviceProbe, out var failure))
        {
            ProviderName = CudaProvider;
            Reason = options.SkipDeviceProbe ? $"CUDA device {options.DeviceId} loads (not probed)" : $"CUDA device {options.DeviceId} is usable";
        }
        else if (options.Provider == ExecutionProviderChoice.Cuda)
        {
            throw new GenerationException(GenerationErrorCodes.ModelUnavailable, $"the CUDA execution provider cannot be used on device {options.DeviceId}: {failure}");
        }
        else
        {
            ProviderName = CpuProvider;
            Reason = $"CUDA is not usable ({failure})";
            FellBack = true;
        }
        if (UsesCuda) DeviceMemory = new OrtMemoryInfo(OrtMemoryInfo.allocatorCUDA, OrtAllocatorType.DeviceAllocator, options.DeviceId, OrtMemType.Default);
        // A fallback is said loudly: a job on the CPU takes hours where the GPU takes minutes.
        log(FellBack ? $"execution provider: {ProviderName}, FALLING BACK TO CPU: {Reason}" : $"execution provider: {ProviderName} ({Reason})");
    }

    /// <summary>The provider every session uses (<see cref="CudaProvider"/> or <see cref="CpuProvider"/>).</summary>
    public string ProviderName { get; }

    /// <summary>Why that provider was chosen.</summary>
    public string Reason { get; }

    /// <summary>True when CUDA was asked for (<see cref="ExecutionProviderChoice.Auto"/>) but cannot be used, so the CPU runs the graphs.</summary>
    public bool FellBack { get; }

    /// <summary>True when the sessions run on CUDA.</summary>
    public bool UsesCuda => ProviderName == CudaProvider;

    /// <summary>Where outputs that stay on the device (VAE caches, motion modulations) live: the GPU with CUDA, else null (the CPU).</summary>
    public OrtMemoryInfo? DeviceMemory { get; }

    /// <summary>Creates a session for the graph at <paramref name="modelPath"/> (external data next to it is found by ONNX Runtime).</summary>
    /// <param name="modelPath">The graph file.</param>
    /// <param name="cpuArena">
    /// Whether tensors the session allocates on the CPU come from ONNX Runtime's CPU memory arena. Off, each one is
    /// allocated on its own and freed after its last use; the VAE turns it off, because the arena keeps the largest
    /// block of every differently shaped chunk and its peak grows far beyond what one chunk needs (docs/model.md §6.3).
    /// </param>
    /// <exception cref="GenerationException">The graph cannot be loaded.</exception>
    public InferenceSession Create(string modelPath, bool cpuArena = true)
    {
        SessionOptions? options = null;
        try
        {
            options = CreateOptions(cpuArena);
            return new InferenceSession(modelPath, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new GenerationException(GenerationErrorCodes.ModelUnavailable, $"{modelPath}: ONNX Runtime cannot load the graph: {FirstLine(e.Message)}", e);
        }
        finally
        {
            // InferenceSession copies what it needs from the options when it is created.
            options?.Dispose();
        }
    }

    /// <summary>
    /// The CUDA provider settings of every session: the device, and the device arena grown by what is asked for
    /// rather than to the next power of two, which on multi-GB activations wastes gigabytes (docs/model.md §6.3);
    /// exhaustive cuDNN convolution search for the VAE; then <paramref name="overrides"/>
    /// (<see cref="ExecutionOptions.CudaProviderOptions"/>), which win.
    /// </summary>
    public static Dictionary<string, string> CudaSettings(int deviceId, IReadOnlyDictionary<string, string>? overrides = null)
    {
        var settings = new Dictionary<string, string>
        {
            ["device_id"] = deviceId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["arena_extend_strategy"] = "kSameAsRequested",
            ["cudnn_conv_algo_search"] = "EXHAUSTIVE",
        };
        if (overrides is not null)
            foreach (var (key, value) in overrides) settings[key] = value;
        return settings;
    }

    /// <summary>
    /// The options every session is created with: all graph optimisations, the thread count, CUDA with the CPU
    /// fallback off, the CPU arena as asked (<see cref="Create"/>). For a session made from bytes (the benchmarks);
    /// the caller disposes them.
    /// </summary>
    public SessionOptions CreateOptions(bool cpuArena)
    {
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, EnableCpuMemArena = cpuArena };
        try
        {
            if (_options.IntraOpThreads > 0) options.IntraOpNumThreads = _options.IntraOpThreads;
            if (UsesCuda)
            {
                using var cuda = new OrtCUDAProviderOptions();
                cuda.UpdateOptions(CudaSettings(_options.DeviceId, _options.CudaProviderOptions));
                options.AppendExecutionProvider_CUDA(cuda);
                options.AddSessionConfigEntry(DisableCpuFallback, "1");
            }
            return options;
        }
        catch
        {
            options.Dispose();
            throw;
        }
    }

    private static bool TryCuda(int deviceId, bool probeDevice, out string failure)
    {
        failure = "";
        if (!OrtEnv.Instance().GetAvailableProviders().Contains(CudaProvider))
        {
            failure = "this ONNX Runtime build has no CUDA provider";
            return false;
        }
        // ONNX Runtime also prints the load failure itself; the reason goes into our one log line instead.
        var env = OrtEnv.Instance();
        var level = env.EnvLogLevel;
        env.EnvLogLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL;
        try
        {
            using var probe = new SessionOptions();
            probe.AppendExecutionProvider_CUDA(deviceId);
            if (!probeDevice) return true;
            probe.AddSessionConfigEntry(DisableCpuFallback, "1");
            try
            {
                var wrong = CudaProbe.Run(probe);
                failure = wrong ?? "";
                return wrong is null;
            }
            catch (OnnxRuntimeException e)
            {
                failure = $"the CUDA provider loads but a Conv on the device fails: {Cause(e.Message)}";
                return false;
            }
        }
        catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
        {
            failure = FirstLine(e.Message);
            return false;
        }
        finally
        {
            env.EnvLogLevel = level;
        }
    }

    /// <summary>
    /// The innermost reason of a kernel failure: ONNX Runtime wraps it as "… Status Message: file:line function
    /// [ONNXRuntimeError] : 9 : NOT_IMPLEMENTED : reason" (e.g. "cuDNN is unavailable …: dlopen failed for libcudnn.so").
    /// </summary>
    private static string Cause(string message)
    {
        var line = message.Split('\n', 2)[0];
        int at = line.LastIndexOf("[ONNXRuntimeError] : ", StringComparison.Ordinal);
        if (at >= 0)
        {
            var parts = line[at..].Split(" : ", 4);
            if (parts.Length == 4) return FirstLine(parts[3]);
        }
        at = line.LastIndexOf("Status Message: ", StringComparison.Ordinal);
        return FirstLine(at >= 0 ? line[(at + "Status Message: ".Length)..] : line);
    }

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.Length > 300 ? line[..300] + "…" : line;
    }
}
