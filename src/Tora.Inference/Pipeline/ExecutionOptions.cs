namespace Tora.Inference.Pipeline;

/// <summary>Which ONNX Runtime execution provider runs the graphs.</summary>
public enum ExecutionProviderChoice
{
    /// <summary>CUDA when this build and machine can run it, otherwise the CPU (with a log line saying why).</summary>
    Auto,

    /// <summary>The CPU provider.</summary>
    Cpu,

    /// <summary>CUDA, or fail: no silent fallback.</summary>
    Cuda,
}

/// <summary>How a <see cref="ToraPipeline"/> runs its graphs.</summary>
public sealed record ExecutionOptions
{
    /// <summary>The execution provider (default: CUDA if usable, else CPU).</summary>
    public ExecutionProviderChoice Provider { get; init; } = ExecutionProviderChoice.Auto;

    /// <summary>The CUDA device index (one process per GPU, docs/architecture.md §4).</summary>
    public int DeviceId { get; init; }

    /// <summary>
    /// Low-memory mode: each component's session is created when its stage starts and released when it ends (text
    /// encoder → VAE encoder and trajectory encoder → transformer → VAE decoder), so only one stage's weights are
    /// resident at a time (small GPUs). Off: every session stays loaded between jobs (speed).
    /// </summary>
    public bool LowMemory { get; init; }

    /// <summary>VAE tiling (docs/vae-tiling.md); default <see cref="VaeTilingChoice.Auto"/>: on in low-memory mode where diffusers' default tiles fit.</summary>
    public VaeTilingChoice VaeTiling { get; init; } = VaeTilingChoice.Auto;

    /// <summary>
    /// Create CUDA sessions without first running the start-up Conv on the device (<c>tora model check
    /// --placement-only</c>: where nodes go can be checked over CUDA libraries that cannot compute). Off by default.
    /// </summary>
    public bool SkipDeviceProbe { get; init; }

    /// <summary>Intra-op threads of CPU sessions (0: ONNX Runtime's default, one per core).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>
    /// CUDA provider options set over the product's own (<see cref="OrtSessionFactory.CudaSettings"/>), e.g.
    /// <c>sdpa_kernel</c>; <c>tora bench step --cuda-option</c> passes them. Null or empty: the product's settings.
    /// </summary>
    public IReadOnlyDictionary<string, string>? CudaProviderOptions { get; init; }

    /// <summary>Where the pipeline's one-line log messages go (provider choice, stage timings); null: nowhere.</summary>
    public Action<string>? Log { get; init; }
}
