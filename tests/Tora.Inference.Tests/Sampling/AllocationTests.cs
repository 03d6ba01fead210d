using Tora.Inference.Noise;
using Tora.Inference.Sampling;

namespace Tora.Inference.Tests.Sampling;

public class AllocationTests
{
    [Fact]
    public void Warmed_up_loops_of_steps_with_seeded_noise_allocate_nothing()
    {
        int[] shape = [1, 13, 16, 8, 12];
        var scheduler = new CogVideoXDpmScheduler(CogVideoXSchedulerConfig.CogVideoX5B, 4);
        var stepper = new DpmSolverStepper(scheduler, shape);
        var guidance = new ClassifierFreeGuidance();
        var latents = new float[stepper.Length];
        var batch = new float[2 * stepper.Length];
        new TorchGenerator(1).Randn(batch);

        void Loop(INoiseSource noise)
        {
            stepper.Reset();
            for (var i = 0; i < 4; i++) stepper.GuidedStep(i, batch, guidance.ScaleAt(scheduler.Timesteps[i], 4), latents, noise);
            stepper.Reset();
            for (var i = 0; i < 4; i++)
            {
                var guided = ClassifierFreeGuidance.CombineBatched(batch, 1.5);
                stepper.Step(i, guided, latents, noise);
            }
        }

        Loop(new SeededNoiseSource(5));

        // The runtime may allocate on this thread on its own account while the loop runs (tiered compilation
        // starts its background worker as a managed thread when it has methods to recompile, which depends on
        // timing), so the loop is measured in several rounds: an allocation of the loop shows in every round.
        var rounds = new long[4];
        for (var r = 0; r < rounds.Length; r++)
        {
            var noise = new SeededNoiseSource(6 + (ulong)r);
            var before = GC.GetAllocatedBytesForCurrentThread();
            Loop(noise);
            rounds[r] = GC.GetAllocatedBytesForCurrentThread() - before;
        }
        Assert.True(rounds.Min() == 0, $"bytes allocated per round: {string.Join(", ", rounds)}");
    }
}
