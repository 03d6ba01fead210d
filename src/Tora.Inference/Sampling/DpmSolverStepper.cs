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
    private float[]? _guided;
    private int _noisePreparedFor = -1;

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
    public void Reset()
    {
        NextStep = 0;
        _noisePreparedFor = -1;
    }

    /// <summary>
    /// Takes the noise draws of step <paramref name="index"/> (which must be <see cref="NextStep"/>) now, so that
    /// the next <see cref="Step"/> or <see cref="GuidedStep"/> only does arithmetic. The draws do not depend on the
    /// model, so a pipeline may call this on another thread while the transformer runs (never concurrently with a
    /// step); the stream and its order are unchanged.
    /// </summary>
    public void PrepareNoise(int index, INoiseSource noise)
    {
        ArgumentNullException.ThrowIfNull(noise);
        if (index != NextStep)
            throw new InvalidOperationException($"noise for step {index} requested but the next step is {NextStep}");
        if (index >= _scheduler.NumInferenceSteps)
            throw new InvalidOperationException($"the loop has {_scheduler.NumInferenceSteps} steps; step {index} does not exist");
        if (_noisePreparedFor == index) return;
        var c = _scheduler.Step(index);
        if (c.SecondOrder) noise.Skip(_shape, NoiseConsumer.SchedulerStep);
        noise.Draw(_shape, _noise, NoiseConsumer.SchedulerStep);
        _noisePreparedFor = index;
    }

    /// <summary>
    /// Step <paramref name="index"/> (which must be <see cref="NextStep"/>): <paramref name="sample"/> (the current
    /// latents, float32, C order) is replaced by the latents of the previous timestep; <paramref name="modelOutput"/>
    /// is the guided model prediction for it.
    /// </summary>
    public void Step(int index, ReadOnlySpan<float> modelOutput, Span<float> sample, INoiseSource noise)
    {
        ArgumentNullException.ThrowIfNull(noise);
        if (modelOutput.Length != Length)
            throw new ArgumentException($"model output of {modelOutput.Length} values, expected {Length}");
        var c = Begin(index, sample.Length);
        DpmSolverKernels.PredictOriginalSample(_scheduler.Config.PredictionType, c.AlphaProdT, sample, modelOutput, _predOriginal);
        PrepareNoise(index, noise);
        if (c.SecondOrder) DpmSolverKernels.SecondOrderUpdate(c, sample, _predOriginal, _oldPredOriginal, _noise);
        else DpmSolverKernels.FirstOrderUpdate(c, sample, _predOriginal, _noise);
        NextStep = index + 1;
        _noisePreparedFor = -1;
    }

    /// <summary>
    /// Step <paramref name="index"/> from the transformer's batched prediction <c>[uncond, cond]</c> (two equal
    /// halves, batch first): guidance with <paramref name="guidanceScale"/> and the step in one pass (v-prediction;
    /// other prediction types guide into a buffer first). Same result, bit for bit, as
    /// <see cref="ClassifierFreeGuidance.CombineBatched"/> followed by <see cref="Step"/>; the prediction is not modified.
    /// </summary>
    public void GuidedStep(int index, ReadOnlySpan<float> batchedPrediction, double guidanceScale, Span<float> sample, INoiseSource noise)
    {
        ArgumentNullException.ThrowIfNull(noise);
        if (batchedPrediction.Length != 2 * Length)
            throw new ArgumentException($"a [uncond, cond] prediction of {batchedPrediction.Length} values, expected {2 * Length}");
        var uncond = batchedPrediction[..Length];
        var cond = batchedPrediction[Length..];
        if (_scheduler.Config.PredictionType != "v_prediction")
        {
            _guided ??= new float[Length];
            ClassifierFreeGuidance.Combine(uncond, cond, guidanceScale, _guided);
            Step(index, _guided, sample, noise);
            return;
        }
        var c = Begin(index, sample.Length);
        PrepareNoise(index, noise);
        DpmSolverKernels.GuidedVelocityStep(c, uncond, cond, guidanceScale, sample, _predOriginal, _oldPredOriginal, _noise);
        NextStep = index + 1;
        _noisePreparedFor = -1;
    }

    private DpmStepCoefficients Begin(int index, int sampleLength)
    {
        if (index != NextStep)
            throw new InvalidOperationException($"step {index} requested but the next step is {NextStep} (steps run in order)");
        if (index >= _scheduler.NumInferenceSteps)
            throw new InvalidOperationException($"the loop has {_scheduler.NumInferenceSteps} steps; step {index} does not exist");
        if (sampleLength != Length)
            throw new ArgumentException($"latents of {sampleLength} values, expected {Length}");
        (_predOriginal, _oldPredOriginal) = (_oldPredOriginal, _predOriginal);
        return _scheduler.Step(index);
    }
}
