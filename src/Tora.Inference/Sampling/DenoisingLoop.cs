using System.Diagnostics;
using Tora.Inference.Noise;

namespace Tora.Inference.Sampling;

/// <summary>The model side of a denoising step: the transformer (with its trajectory guidance) behind an ONNX
/// session, or a fake in tests.</summary>
public interface IDenoiser
{
    /// <summary>
    /// Predicts the velocity for <paramref name="latents"/> (<c>[1, T, C, h, w]</c>) at timestep value
    /// <paramref name="timestep"/>. With <paramref name="guided"/> the batch <c>[uncond, cond]</c> is written
    /// (<paramref name="prediction"/> holds two latent tensors, uncond first); otherwise the conditional
    /// prediction alone (one tensor).
    /// </summary>
    void Predict(ReadOnlySpan<float> latents, int timestep, bool guided, Span<float> prediction);
}

/// <summary>Progress of a denoising loop after a step.</summary>
/// <param name="Step">Steps done (1 … <paramref name="TotalSteps"/>).</param>
/// <param name="TotalSteps">Steps of the loop.</param>
/// <param name="Elapsed">Time since the loop started.</param>
public readonly record struct DenoisingProgress(int Step, int TotalSteps, TimeSpan Elapsed);

/// <summary>
/// The sampling loop of the original pipeline (tora-reference §5): initial latents from the noise source, then
/// for every timestep the model's <c>[uncond, cond]</c> prediction, guidance (dynamic or constant) and one DPM
/// step, with progress after each step and cancellation between steps. Buffers are allocated once per loop
/// object; a step allocates nothing beyond what the denoiser does.
/// </summary>
public sealed class DenoisingLoop
{
    private readonly CogVideoXDpmScheduler _scheduler;
    private readonly ClassifierFreeGuidance _guidance;
    private readonly DpmSolverStepper _stepper;
    private readonly float[] _prediction;

    /// <summary>Prepares a loop for latents of <paramref name="latentShape"/>.</summary>
    public DenoisingLoop(CogVideoXDpmScheduler scheduler, ClassifierFreeGuidance guidance, ReadOnlySpan<int> latentShape)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(guidance);
        _scheduler = scheduler;
        _guidance = guidance;
        _stepper = new DpmSolverStepper(scheduler, latentShape);
        _prediction = new float[(guidance.Enabled ? 2 : 1) * _stepper.Length];
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

    /// <summary>Runs every step on <paramref name="latents"/> in place.</summary>
    public void Run(Span<float> latents, IDenoiser denoiser, INoiseSource noise,
        IProgress<DenoisingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(denoiser);
        ArgumentNullException.ThrowIfNull(noise);
        if (latents.Length != _stepper.Length)
            throw new ArgumentException($"latents of {latents.Length} values, expected {_stepper.Length}", nameof(latents));
        var clock = Stopwatch.StartNew();
        var steps = _scheduler.NumInferenceSteps;
        _stepper.Reset();
        for (var i = 0; i < steps; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var t = _scheduler.Timesteps[i];
            denoiser.Predict(latents, t, _guidance.Enabled, _prediction);
            if (_guidance.Enabled) _stepper.GuidedStep(i, _prediction, _guidance.ScaleAt(t, steps), latents, noise);
            else _stepper.Step(i, _prediction, latents, noise);
            progress?.Report(new DenoisingProgress(i + 1, steps, clock.Elapsed));
        }
    }
}
