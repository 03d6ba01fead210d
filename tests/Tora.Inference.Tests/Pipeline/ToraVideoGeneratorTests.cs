using Tora.Motion.Trajectories;
using Tora.Inference.Pipeline;
using Tora.TestSupport;

namespace Tora.Inference.Tests.Pipeline;

/// <summary>The worker's seam over the pipeline: status, seeds, sizes, errors as stable codes.</summary>
[Collection(TinyPackageCollection.Name)]
public sealed class ToraVideoGeneratorTests(TinyPackageFixture fixture)
{
    private GenerationRequest Request(string output) => new()
    {
        Prompt = "A squirrel gathering nuts.",
        Trajectories = fixture.Coaster,
        Geometry = new VideoGeometry(49, 64, 96),
        Steps = 2,
        GuidanceScale = 6,
        DynamicCfg = true,
        Seed = 42,
        Fps = 8,
        OverlayTrajectory = true,
        OutputPath = output,
    };

    [Fact]
    public async Task A_loaded_package_generates_an_mp4_with_progress_and_a_reproducibility_record()
    {
        using var generator = new ToraVideoGenerator("tora-t2v", fixture.T2VPackage, TinyPackageFixture.Cpu);
        Assert.True(generator.Status.Ready, generator.Status.Detail);
        Assert.Contains("tora-t2v fp32 package", generator.Status.Detail);
        var output = Path.Combine(TestData.TempFolder(), "video.mp4");
        var reports = new List<GenerationProgress>();
        var result = await generator.GenerateAsync(Request(output), new SyncProgress(reports.Add), default);
        Assert.Equal((output, 49, 8), (result.VideoPath, result.Geometry.Frames, result.Fps));
        Assert.Equal("CPUExecutionProvider", result.ExecutionProvider);
        Assert.Equal(64, result.ModelPackageHash.Length);
        Assert.Equal([1, 2], reports.Where(r => r.Phase == "denoise" && r.Step > 0).Select(r => r.Step));
        Assert.Contains("decode", result.PhaseMilliseconds.Keys);
        Assert.Equal(49, MediaProbe.Probe(output).Frames);
    }

    [Fact]
    public async Task Sizes_the_package_was_not_built_for_and_unusable_packages_are_stable_error_codes()
    {
        using var generator = new ToraVideoGenerator("tora-t2v", fixture.T2VPackage, TinyPackageFixture.Cpu);
        var e = await Assert.ThrowsAsync<GenerationException>(() =>
            generator.GenerateAsync(Request("x.mp4") with { Geometry = new VideoGeometry(49, 480, 720) }, new SyncProgress(_ => { }), default));
        Assert.Equal("unsupported_size", e.Code);

        using var missing = new ToraVideoGenerator("tora-t2v", Path.Combine(TestData.TempFolder(), "absent"), TinyPackageFixture.Cpu);
        Assert.False(missing.Status.Ready);
        Assert.Contains("does not exist", missing.Status.Detail);
        e = await Assert.ThrowsAsync<GenerationException>(() => missing.GenerateAsync(Request("x.mp4"), new SyncProgress(_ => { }), default));
        Assert.Equal("model_unavailable", e.Code);
    }

    private sealed class SyncProgress(Action<GenerationProgress> report) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => report(value);
    }
}
