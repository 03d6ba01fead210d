using BenchmarkDotNet.Attributes;
using Tora.Inference.Noise;
using Tora.Inference.Sampling;

namespace Tora.Benchmarks;

/// <summary>
/// Host work of one denoising step at CogVideoX-5B size: classifier-free guidance on the batched prediction
/// <c>[2, 13, 16, 60, 90]</c> float32, then a second-order DPM step on <c>[1, 13, 16, 60, 90]</c> with its two noise
/// draws (the first skipped, the second drawn), fused in one pass as <see cref="DpmSolverStepper.GuidedStep"/> runs
/// them (<see cref="CfgThenDpmStep_Replay_Unfused"/>: guidance into a buffer, then the step). <see cref="CfgAndDpmStep_Replay"/> takes the draws from memory
/// (the arithmetic alone, as with <c>--noise</c>), <see cref="CfgAndDpmStep_Seeded"/> from the torch-compatible
/// generator (the default run). Must allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class HostStepBenchmarks
{
    private static readonly int[] LatentShape = [1, 13, 16, 60, 90];
    private const int StepIndex = 25;

    private CogVideoXDpmScheduler _scheduler = null!;
    private float[] _batched = null!;
    private float[] _guided = null!;
    private float[] _latents = null!;
    private float[] _previousX0 = null!;
    private float[] _x0 = null!;
    private float[] _noise = null!;
    private SeededNoiseSource _seeded = null!;
    private InMemoryNoise _replay = null!;
    private ClassifierFreeGuidance _guidance = null!;
    private DpmSolverStepper _loopStepper = null!;

    [GlobalSetup]
    public void Setup()
    {
        _scheduler = new CogVideoXDpmScheduler(CogVideoXSchedulerConfig.CogVideoX5B, 50);
        var n = LatentShape.Aggregate(1, (a, b) => a * b);
        var generator = new TorchGenerator(7);
        _batched = new float[2 * n];
        generator.Randn(_batched);
        _latents = new float[n];
        generator.Randn(_latents);
        _previousX0 = new float[n];
        generator.Randn(_previousX0);
        _guided = new float[n];
        _x0 = new float[n];
        _noise = new float[n];
        _seeded = new SeededNoiseSource(42);
        var draw = new float[n];
        generator.Randn(draw);
        _replay = new InMemoryNoise(draw);
        _guidance = new ClassifierFreeGuidance();
        _loopStepper = new DpmSolverStepper(_scheduler, LatentShape);
    }

    [Benchmark(Baseline = true)]
    public void CfgAndDpmStep_Replay() => FusedStep(_replay);

    [Benchmark]
    public void CfgAndDpmStep_Seeded() => FusedStep(_seeded);

    [Benchmark]
    public void CfgThenDpmStep_Replay_Unfused() => Step(_replay);

    [Benchmark]
    public void CfgCombineOnly()
    {
        var n = _guided.Length;
        ClassifierFreeGuidance.Combine(_batched.AsSpan(0, n), _batched.AsSpan(n, n), 4.27, _guided);
    }

    /// <summary>The real API over a whole 50-step loop (divide by 50 for a step): guidance and
    /// <see cref="DpmSolverStepper.Step"/> with seeded noise, 98 draws.</summary>
    [Benchmark]
    public void FiftyStepLoop_Seeded()
    {
        var n = _guided.Length;
        var noise = new SeededNoiseSource(42);
        _loopStepper.Reset();
        for (var i = 0; i < 50; i++)
        {
            var t = _scheduler.Timesteps[i];
            _loopStepper.GuidedStep(i, _batched, _guidance.ScaleAt(t, 50), _latents, noise);
        }
    }

    [Benchmark]
    public void RandnLatents() => _seeded.Draw(LatentShape, _noise, NoiseConsumer.SchedulerStep);

    [Benchmark]
    public void SkipLatents() => _seeded.Skip(LatentShape, NoiseConsumer.SchedulerStep);

    /// <summary>What <see cref="DpmSolverStepper.GuidedStep"/> does at a middle step, on fixed buffers so that the
    /// same step can repeat.</summary>
    private void FusedStep(INoiseSource noise)
    {
        var n = _guided.Length;
        var c = _scheduler.Step(StepIndex);
        noise.Skip(LatentShape, NoiseConsumer.SchedulerStep);
        noise.Draw(LatentShape, _noise, NoiseConsumer.SchedulerStep);
        DpmSolverKernels.GuidedVelocityStep(c, _batched.AsSpan(0, n), _batched.AsSpan(n, n), _guidance.ScaleAt(c.Timestep, 50),
            _latents, _x0, _previousX0, _noise);
    }

    /// <summary>What <see cref="DpmSolverStepper.Step"/> does at a middle step, on fixed buffers so that the same
    /// step can repeat.</summary>
    private void Step(INoiseSource noise)
    {
        var n = _guided.Length;
        var c = _scheduler.Step(StepIndex);
        ClassifierFreeGuidance.Combine(_batched.AsSpan(0, n), _batched.AsSpan(n, n), _guidance.ScaleAt(c.Timestep, 50), _guided);
        DpmSolverKernels.PredictOriginalSample("v_prediction", c.AlphaProdT, _latents, _guided, _x0);
        noise.Skip(LatentShape, NoiseConsumer.SchedulerStep);
        noise.Draw(LatentShape, _noise, NoiseConsumer.SchedulerStep);
        DpmSolverKernels.SecondOrderUpdate(c, _latents, _x0, _previousX0, _noise);
    }

    /// <summary>Hands out the same stored draw every time (a replay file without its bookkeeping).</summary>
    private sealed class InMemoryNoise(float[] draw) : INoiseSource
    {
        public int DrawCount { get; private set; }

        public void Draw(ReadOnlySpan<int> shape, Span<float> destination, NoiseConsumer consumer)
        {
            draw.CopyTo(destination);
            DrawCount++;
        }

        public void Skip(ReadOnlySpan<int> shape, NoiseConsumer consumer) => DrawCount++;
    }
}
