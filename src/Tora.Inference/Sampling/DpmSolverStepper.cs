using Tora.Inference.Noise;

namespace Tora.Inference.Sampling;

/// <summary>
/// Runs the steps of one generation in order: keeps the previous predicted original sample (the 2M memory) and
/// draws the step noise from the generation's <see cref="INoiseSource"/> exactly as diffusers' <c>step</c> does —
/// one draw at the first and last step, two otherwise, the first of which is computed by diffusers but unused
/// (here it is skipped, which advances the stream identically). Buffers are allocated once; a step allocates
/// nothing.
/// </summary>
public sealed class DpmSolverStepper
{
    private readonly CogVideoXDpmScheduler _scheduler;
    private readonly int[] _shape;
    private float[] _predOriginal;
    private float[] _oldPredOriginal;
    private readonly float[] _noise;

    /// <summary>Prepares the state for latents of <paramref name="latentShape"/> (e.g. <c>[1, 13, 16, 60, 90]</c>).</summary>
    public DpmSolverStepper(CogVideoXDpmScheduler scheduler, ReadOnlySpan<int> latentShape)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        _scheduler = scheduler;
        _shape = latentShape.ToArray();
        var length = checked((int)NoiseShape.Count(latentShape));
        if (length == 0) throw new ArgumentException("the latent shape holds no elements", nameof(latentShape));
        Length = length;
        _predOriginal = GC.AllocateUninitializedArray<float>(length);
        _oldPredOriginal = GC.AllocateUninitializedArray<float>(length);
        _noise = GC.AllocateUninitializedArray<float>(length);
    }

    /// <summary>Elements of one latent tensor.</summary>
    public int Length { get; }

    /// <summary>The latent shape the noise draws take.</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>The index of the next step to run.</summary>
    public int NextStep { get; private set; }

    /// <summary>The predicted original sample <c>x0</c> of the last step run (diffusers' <c>pred_original_sample</c>).</summary>
    public ReadOnlySpan<float> PredictedOriginalSample => _predOriginal;

    /// <summary>Starts a new loop (the next step is 0, the previous prediction is forgotten).</summary>
    public void Reset() => NextStep = 0;

    /// <summary>
    /// Step <paramref name="index"/> (which must be <see cref="NextStep"/>): <paramref name="sample"/> (the current
    /// latents, float32, C order) is replaced by the latents of the previous timestep; <paramref name="modelOutput"/>
    /// is the guided model prediction for it.
    /// </summary>
    public void Step(int index, ReadOnlySpan<float> modelOutput, Span<float> sample, INoiseSource noise)
    {
        ArgumentNullException.ThrowIfNull(noise);
        if (index != NextStep)
            throw new InvalidOperationException($"step {index} requested but the next step is {NextStep} (steps run in order)");
        if (index >= _scheduler.NumInferenceSteps)
            throw new InvalidOperationException($"the loop has {_scheduler.NumInferenceSteps} steps; step {index} does not exist");
        if (sample.Length != Length || modelOutput.Length != Length)
            throw new ArgumentException($"latents of {sample.Length} and model output of {modelOutput.Length} values, expected {Length}");

        var c = _scheduler.Step(index);
        (_predOriginal, _oldPredOriginal) = (_oldPredOriginal, _predOriginal);
        DpmSolverKernels.PredictOriginalSample(_scheduler.Config.PredictionType, c.AlphaProdT, sample, modelOutput, _predOriginal);
        if (c.SecondOrder)
        {
            noise.Skip(_shape, NoiseConsumer.SchedulerStep);
            noise.Draw(_shape, _noise, NoiseConsumer.SchedulerStep);
            DpmSolverKernels.SecondOrderUpdate(c, sample, _predOriginal, _oldPredOriginal, _noise);
        }
        else
        {
            noise.Draw(_shape, _noise, NoiseConsumer.SchedulerStep);
            DpmSolverKernels.FirstOrderUpdate(c, sample, _predOriginal, _noise);
        }
        NextStep = index + 1;
    }
}
