namespace Tora.Inference.Sampling;

/// <summary>
/// The float64 scalars of one stochastic DPM-Solver++(2M) step of diffusers' <c>CogVideoXDPMScheduler</c>
/// (docs/model.md §5.2). Infinities are legitimate: at the first step <c>ᾱ_t = 0</c> gives <c>λ = −∞</c>,
/// <c>h = ∞</c>; at the second <c>r = ∞</c>; at the last <c>h = ∞</c> and <c>Mult3 = Mult4 = ∞</c>, which the
/// first-order last step never touches.
/// </summary>
/// <param name="Index">Step index (0-based).</param>
/// <param name="Timestep">Timestep <c>t</c> (the model's timestep input).</param>
/// <param name="PrevTimestep"><c>t − num_train_timesteps / steps</c>; negative at the last step.</param>
/// <param name="TimestepBack">The previous step's timestep, or null at step 0.</param>
/// <param name="AlphaProdT"><c>ᾱ_t</c>.</param>
/// <param name="AlphaProdTPrev"><c>ᾱ</c> at <see cref="PrevTimestep"/> (the final alpha product when negative).</param>
/// <param name="AlphaProdTBack"><c>ᾱ</c> at <see cref="TimestepBack"/>, or null.</param>
/// <param name="Lambda"><c>λ_t = ln √(ᾱ_t / (1 − ᾱ_t))</c>.</param>
/// <param name="LambdaNext"><c>λ</c> at the previous timestep.</param>
/// <param name="H"><c>h = λ_next − λ_t</c>.</param>
/// <param name="R"><c>r = (λ_t − λ_back) / h</c>, or null at step 0.</param>
/// <param name="Mult1">Coefficient of the current sample.</param>
/// <param name="Mult2">Coefficient subtracted times the (corrected) predicted original sample.</param>
/// <param name="Mult3">Coefficient of the new prediction in the second-order correction, or null.</param>
/// <param name="Mult4">Coefficient of the previous prediction in the second-order correction, or null.</param>
/// <param name="MultNoise">Coefficient of the noise draw.</param>
/// <param name="SecondOrder">Whether the step uses the previous prediction (and draws twice).</param>
public readonly record struct DpmStepCoefficients(
    int Index,
    int Timestep,
    int PrevTimestep,
    int? TimestepBack,
    double AlphaProdT,
    double AlphaProdTPrev,
    double? AlphaProdTBack,
    double Lambda,
    double LambdaNext,
    double H,
    double? R,
    double Mult1,
    double Mult2,
    double? Mult3,
    double? Mult4,
    double MultNoise,
    bool SecondOrder)
{
    /// <summary>Noise draws the original step consumes: 2 when second order (the first is unused), else 1.</summary>
    public int NoiseDraws => SecondOrder ? 2 : 1;
}
