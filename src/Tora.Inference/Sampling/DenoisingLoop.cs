using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Tora.Contracts;
using Tora.Inference.Noise;

namespace Tora.Inference.Sampling;

/// <summary>The model side of a denoising step: the transformer (with its trajectory guidance) behind an ONNX
/// session, or a fake in tests.</summary>
public interface IDenoiser
{
    /// <summary>
    /// Predicts the velocity for <paramref name="latents"/> (<c>[1, T, C, h, w]</c>) at step <paramref name="step"/>
    /// (0-based; decides whether motion guidance applies) with timestep value <paramref name="timestep"/>. With <paramref name="guided"/> the batch <c>[uncond, cond]</c> is returned
    /// (two latent tensors, uncond first); otherwise the conditional prediction alone (one tensor). The span is the
    /// denoiser's own output buffer (no copy on the step's critical path), valid until the next call.
    /// </summary>
    ReadOnlySpan<float> Predict(ReadOnlySpan<float> latents, int step, int timestep, bool guided);
}

/// <summary>Observes the latents after each denoising step (tests, previews): step index and <c>[1, T, C, h, w]</c>.</summary>
public delegate void StepObserver(int step, ReadOnlySpan<float> latents);

/// <summary>
/// The sampling loop of the original pipeline (docs/model.md §5): initial latents from the noise source, then
/// for every timestep the model's <c>[uncond, cond]</c> prediction, guidance (dynamic or constant) and one DPM
/// step, with progress after each step and cancellation between steps. Buffers are allocated once per loop
/// object; a step allocates nothing beyond what the denoiser does. The scheduler's noise draws of a step do not
/// depend on the model, so they are taken on a helper thread while the denoiser runs: the step's host work on the
/// critical path is then guidance and the DPM update alone (bench/README.md, host step).
/// </summary>
public sealed class DenoisingLoop
{
    private readonly CogVideoXDpmScheduler _scheduler;
    private readonly ClassifierFreeGuidance _guidance;
    private readonly DpmSolverStepper _stepper;

    /// <summary>Prepares a loop for latents of <paramref name="latentShape"/>.</summary>
    public DenoisingLoop(CogVideoXDpmScheduler scheduler, ClassifierFreeGuidance guidance, ReadOnlySpan<int> latentShape)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(guidance);
        _scheduler = scheduler;
        _guidance = guidance;
        _stepper = new DpmSolverStepper(scheduler, latentShape);
    }

    /// <summary>Elements of one latent tensor.</summary>
    public int LatentLength => _stepper.Length;

    /// <summary>The stepper (its <see cref="DpmSolverStepper.PredictedOriginalSample"/> is the last <c>x0</c>).</summary>
    public DpmSolverStepper Stepper => _stepper;

    /// <summary>Draws the initial latents (<c>init_noise_sigma = 1</c>) into <paramref name="latents"/>; call it after
    /// the posterior samples so that the draws keep the original order.</summary>
    public void DrawInitialLatents(INoiseSource noise, Span<float> latents)
    {
        ArgumentNullException.ThrowIfNull(noise);
        noise.Draw(_stepper.Shape, latents, NoiseConsumer.InitialLatents);
    }

    /// <summary>
    /// Runs every step on <paramref name="latents"/> in place, reporting phase <see cref="GenerationPhases.Denoise"/>
    /// after each step (elapsed since the loop started; the pipeline reports on its job's clock instead).
    /// </summary>
    public void Run(Span<float> latents, IDenoiser denoiser, INoiseSource noise,
        IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default, StepObserver? onStep = null)
    {
        ArgumentNullException.ThrowIfNull(denoiser);
        ArgumentNullException.ThrowIfNull(noise);
        if (latents.Length != _stepper.Length)
            throw new ArgumentException($"latents of {latents.Length} values, expected {_stepper.Length}", nameof(latents));
        var clock = Stopwatch.StartNew();
        var steps = _scheduler.NumInferenceSteps;
        _stepper.Reset();
        using var prefetch = new NoisePrefetcher(_stepper, noise);
        for (var i = 0; i < steps; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var t = _scheduler.Timesteps[i];
            prefetch.Begin(i);
            ReadOnlySpan<float> prediction;
            try
            {
                prediction = denoiser.Predict(latents, i, t, _guidance.Enabled);
            }
            finally
            {
                prefetch.Wait(); // never leave the helper drawing while the loop unwinds
            }
            if (_guidance.Enabled) _stepper.GuidedStep(i, prediction, _guidance.ScaleAt(t, steps), latents, noise);
            else _stepper.Step(i, prediction, latents, noise);
            onStep?.Invoke(i, latents);
            progress?.Report(new GenerationProgress(GenerationPhases.Denoise, i + 1, steps, clock.Elapsed));
        }
    }

    /// <summary>
    /// One helper thread per loop that takes step <c>i</c>'s noise draws (<see cref="DpmSolverStepper.PrepareNoise"/>)
    /// while the denoiser predicts for step <c>i</c>. The stream is still consumed in order, one step at a time, so
    /// seeded, replayed and recorded runs are unchanged; no allocation per step.
    /// </summary>
    private sealed class NoisePrefetcher : IDisposable
    {
        private readonly DpmSolverStepper _stepper;
        private readonly INoiseSource _noise;
        private readonly SemaphoreSlim _start = new(0);
        private readonly SemaphoreSlim _done = new(0);
        private readonly Thread _thread;
        private int _index;
        private volatile bool _stopping;
        private Exception? _error;

        public NoisePrefetcher(DpmSolverStepper stepper, INoiseSource noise)
        {
            _stepper = stepper;
            _noise = noise;
            _thread = new Thread(Work) { IsBackground = true, Name = "tora-noise-prefetch" };
            _thread.Start();
        }

        public void Begin(int index)
        {
            _index = index;
            _start.Release();
        }

        public void Wait()
        {
            _done.Wait();
            if (_error is { } error)
            {
                _error = null;
                ExceptionDispatchInfo.Throw(error);
            }
        }

        private void Work()
        {
            while (true)
            {
                _start.Wait();
                if (_stopping) return;
                try
                {
                    _stepper.PrepareNoise(_index, _noise);
                }
                catch (Exception e)
                {
                    _error = e;
                }
                _done.Release();
            }
        }

        public void Dispose()
        {
            _stopping = true;
            _start.Release();
            _thread.Join();
            _start.Dispose();
            _done.Dispose();
        }
    }
}
