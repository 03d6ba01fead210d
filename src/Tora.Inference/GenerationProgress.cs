using Tora.Contracts;
namespace Tora.Inference;

/// <summary>Progress of one generation: reported once per denoising step, and once per other phase.</summary>
/// <param name="Phase">A phase name from <see cref="GenerationPhases"/>.</param>
/// <param name="Step">Denoising steps done (0 outside <c>denoise</c> before the first step).</param>
/// <param name="TotalSteps">Denoising steps in all.</param>
/// <param name="Elapsed">Time since the pipeline started the job (zero where the reporter does not time it).</param>
public sealed record GenerationProgress(string Phase, int Step, int TotalSteps, TimeSpan Elapsed = default);
