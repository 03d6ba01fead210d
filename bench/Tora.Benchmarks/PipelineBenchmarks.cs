using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Tora.Inference;
using Tora.Inference.Noise;
using Tora.Inference.Pipeline;
using Tora.Inference.Sampling;
using Tora.Motion.Trajectories;
using Tora.Models.Package;

namespace Tora.Benchmarks;

/// <summary>
/// A whole generation on the tiny text-to-video checkpoint (tests/data/fixtures/tiny-tora-t2v compiled once in
/// the setup), CPU provider, sessions resident: prompt + coaster trajectory → T5, flow video, VAE encoder,
/// trajectory encoder, N guided transformer steps, chunked VAE decode to 49 × 64 × 96 frames (and the MP4).
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class PipelineBenchmarks
{
    private ToraPipeline? _pipeline;
    private IReadOnlyList<Trajectory> _coaster = [];
    private string _folder = "";

    [GlobalSetup]
    public void Setup()
    {
        var root = RepositoryRoot();
        _folder = Path.Combine(Path.GetTempPath(), $"tora-bench-{Guid.NewGuid():N}");
        PackageBuilder.Build(Path.Combine(root, "tests/data/fixtures/tiny-tora-t2v"), Path.Combine(_folder, "t2v"), Precision.Fp32);
        _pipeline = new ToraPipeline(ModelPackage.Open(Path.Combine(_folder, "t2v")), new ExecutionOptions { Provider = ExecutionProviderChoice.Cpu });
        _coaster = TrajectoryTextReader.ReadFile(Path.Combine(root, "tests/data/tora-data/trajs/coaster.txt")).Trajectories;
        // First run creates the sessions: the benchmark measures jobs on a warm worker.
        Run(1, null).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _pipeline?.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>The reference loop's settings: 4 steps, CFG 6 dynamic, frames only.</summary>
    [Benchmark(Baseline = true)]
    public Task<GenerationResult> Generate_4_steps() => Run(4, null);

    /// <summary>The product default: 50 steps, and the MP4 written.</summary>
    [Benchmark]
    public Task<GenerationResult> Generate_50_steps_with_mp4() => Run(50, Path.Combine(_folder, "out.mp4"));

    private Task<GenerationResult> Run(int steps, string? mp4) => _pipeline!.GenerateAsync(new GenerationRequest
    {
        Prompt = "A squirrel gathering nuts.",
        Trajectories = _coaster,
        Steps = steps,
        Noise = new SeededNoiseSource(42),
        OutputPath = mp4,
    }, null, CancellationToken.None);

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Tora.Server.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"no Tora.Server.sln above {AppContext.BaseDirectory}");
    }
}

/// <summary>
/// Host work of one denoising step at real size (issue 6): classifier-free guidance on the batched prediction
/// <c>[2, 13, 16, 60, 90]</c> and a second-order DPM-Solver++(2M) step with its two torch-compatible noise draws,
/// float32, in the pipeline's reused buffers. (The sampler's own fused/unfused breakdown is <see cref="HostStepBenchmarks"/>.)
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[SimpleJob(RunStrategy.Monitoring, invocationCount: 1)]
public class PipelineHostStepBenchmarks
{
    private static readonly int[] Shape = [1, 13, 16, 60, 90];
    private readonly float[] _prediction = new float[2 * 13 * 16 * 60 * 90];
    private readonly float[] _latents = new float[13 * 16 * 60 * 90];
    private float[] _fresh = [];
    private DpmSolverStepper? _stepper;
    private SeededNoiseSource _noise = new(0);

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        for (int i = 0; i < _prediction.Length; i++) _prediction[i] = (float)random.NextDouble() - 0.5f;
        _fresh = _prediction.ToArray();
        _stepper = new DpmSolverStepper(new CogVideoXDpmScheduler(CogVideoXSchedulerConfig.CogVideoX5B, 50), Shape);
    }

    /// <summary>Step 0 runs here so the measured step is a middle (second-order, two-draw) one.</summary>
    [IterationSetup]
    public void Prepare()
    {
        _fresh.CopyTo(_prediction, 0);
        Array.Clear(_latents);
        _noise = new SeededNoiseSource(42);
        _stepper!.Reset();
        _stepper.Step(0, _prediction.AsSpan(0, _latents.Length), _latents, _noise);
        _fresh.CopyTo(_prediction, 0);
    }

    /// <summary>The CFG combine alone.</summary>
    [Benchmark]
    public float CfgOnly() => ClassifierFreeGuidance.CombineBatched(_prediction, 2.54)[0];

    /// <summary>One torch-compatible standard-normal draw of the latent shape alone (a middle step takes two).</summary>
    [Benchmark]
    public float OneNoiseDraw()
    {
        _noise.Draw(Shape, _latents, NoiseConsumer.SchedulerStep);
        return _latents[0];
    }

    /// <summary>CFG combine + DPM step 1 of 50.</summary>
    [Benchmark]
    public float CfgAndDpmStep()
    {
        var guided = ClassifierFreeGuidance.CombineBatched(_prediction, 2.54);
        _stepper!.Step(1, guided, _latents, _noise);
        return _latents[0];
    }
}
