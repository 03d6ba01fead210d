using Tora.Inference.IO;
using Tora.Inference.Noise;
using Tora.Inference.Sampling;
using Tora.TestSupport;

namespace Tora.Inference.Tests.Sampling;

/// <summary>
/// The host side of the tiny text-to-video reference loop (4 DPM steps, CFG 6, dynamic CFG): the stored guided
/// predictions stand in for the transformer; the noise comes from seed 42, so the generator, the draw order and
/// the scheduler are checked together against the original pipeline's latents.
/// </summary>
public class TinyReferenceLoopTests
{
    private static readonly Dictionary<string, NpyArray> Loop =
        NpzFile.Read(TestData.Path("fixtures/tiny-tora-t2v/reference/t2v_loop_4steps.npz"));

    private static readonly int[] LatentShape = [1, 13, 16, 8, 12];
    private static readonly int[] FlowShape = [1, 16, 13, 8, 12];

    [Fact]
    public void Seed_42_with_the_stored_predictions_reproduces_every_step_and_the_final_latents()
    {
        var scheduler = new CogVideoXDpmScheduler(
            CogVideoXSchedulerConfig.Load(TestData.Path("fixtures/tiny-tora-t2v/scheduler/scheduler_config.json")), 4);
        Assert.Equal(Loop["timesteps"].ToInt64s().Select(t => (int)t), scheduler.Timesteps.ToArray());

        var noise = new SeededNoiseSource(42);
        noise.Skip(FlowShape, NoiseConsumer.FlowPosterior);
        var latents = new float[LatentShape.Aggregate(1, (a, b) => a * b)];
        noise.Draw(LatentShape, latents, NoiseConsumer.InitialLatents); // init_noise_sigma = 1
        var stepper = new DpmSolverStepper(scheduler, LatentShape);
        for (var k = 0; k < 4; k++)
        {
            stepper.Step(k, Loop[$"noise_pred_guided_step_{k:D2}"].ToFloats(), latents, noise);
            DpmStepGoldenTests.AssertClose(Loop[$"pred_original_sample_step_{k:D2}"].ToFloats(), stepper.PredictedOriginalSample, 1e-5, $"x0 {k}");
            var key = k < 3 ? $"latents_after_step_{k:D2}" : "final_latents";
            DpmStepGoldenTests.AssertClose(Loop[key].ToFloats(), latents, 1e-5, key);
        }
        Assert.Equal(8, noise.DrawCount);
    }

    [Fact]
    public void Guidance_scales_and_combined_predictions_match_the_reference()
    {
        var guidance = new ClassifierFreeGuidance(6.0, UseDynamicCfg: true);
        var timesteps = Loop["timesteps"].ToInt64s();
        var scales = Loop["guidance_scales"].ToDoubles();
        for (var k = 0; k < 4; k++)
            CogVideoXDpmSchedulerTests.AssertRelative(scales[k], guidance.ScaleAt((int)timesteps[k], 4), 1e-12, $"scale {k}");
        foreach (var k in new[] { 0, 3 })
        {
            var raw = Loop[$"noise_pred_raw_step_{k:D2}"].ToFloats();
            var guided = ClassifierFreeGuidance.CombineBatched(raw, scales[k]);
            DpmStepGoldenTests.AssertClose(Loop[$"noise_pred_guided_step_{k:D2}"].ToFloats(), guided, 1e-6, $"guided {k}");
        }
    }
}
