using Microsoft.Extensions.Options;
using Tora.TestSupport;

namespace Tora.Worker.Tests;

public sealed class UnavailableVideoGeneratorTests
{
    [Fact]
    public void Unavailable_generator_says_precisely_why_no_video_can_be_made()
    {
        WorkerOptions o = new() { Model = "tora-t2v", ModelPackage = null };
        var previous = Environment.GetEnvironmentVariable("TORA_MODEL_PACKAGE");
        Environment.SetEnvironmentVariable("TORA_MODEL_PACKAGE", null);
        try
        {
            Assert.Contains("no model package is configured", new UnavailableVideoGenerator(Options.Create(o)).Status.Detail);
        }
        finally { Environment.SetEnvironmentVariable("TORA_MODEL_PACKAGE", previous); }
        var missing = new UnavailableVideoGenerator(Options.Create(new WorkerOptions { ModelPackage = "/nonexistent/pkg" }));
        Assert.False(missing.Status.Ready);
        Assert.Contains("does not exist", missing.Status.Detail);
        var empty = TestData.TempFolder();
        Assert.Contains("has no manifest.json", new UnavailableVideoGenerator(Options.Create(new WorkerOptions { ModelPackage = empty })).Status.Detail);
        File.WriteAllText(Path.Combine(empty, "manifest.json"), "{ not json");
        Assert.Contains("cannot be used", new UnavailableVideoGenerator(Options.Create(new WorkerOptions { ModelPackage = empty })).Status.Detail);
        var e = Assert.Throws<Tora.Inference.GenerationException>(() =>
            new UnavailableVideoGenerator(Options.Create(new WorkerOptions { ModelPackage = empty })).GenerateAsync(null!, null!, default).GetAwaiter().GetResult());
        Assert.Equal("model_unavailable", e.Code);
    }
}
