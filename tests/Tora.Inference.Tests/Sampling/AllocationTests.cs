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

        var warm = new SeededNoiseSource(5);
        Loop(warm);
        var measured = new SeededNoiseSource(6);
        var before = GC.GetAllocatedBytesForCurrentThread();
        Loop(measured);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }
}
