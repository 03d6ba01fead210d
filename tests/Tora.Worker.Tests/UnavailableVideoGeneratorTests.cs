using Microsoft.Extensions.Options;
using Tora.TestSupport;

namespace Tora.Worker.Tests;

/// <summary>The generator of a worker without a usable model package: it says precisely why no video can be made.</summary>
public sealed class UnavailableVideoGeneratorTests
{
    private static UnavailableVideoGenerator For(string? package) =>
        new(Options.Create(new WorkerOptions { Model = "tora-t2v", ModelPackage = package }));

    [Fact]
    public void Without_a_package_it_says_none_is_configured()
    {
        var previous = Environment.GetEnvironmentVariable("TORA_MODEL_PACKAGE");
        Environment.SetEnvironmentVariable("TORA_MODEL_PACKAGE", null);
        try
        {
            Assert.Contains("no model package is configured", For(null).Status.Detail);
        }
        finally { Environment.SetEnvironmentVariable("TORA_MODEL_PACKAGE", previous); }
    }

    [Fact]
    public void A_missing_package_folder_is_not_ready_and_said_not_to_exist()
    {
        var missing = For("/nonexistent/pkg");
        Assert.False(missing.Status.Ready);
        Assert.Contains("does not exist", missing.Status.Detail);
    }

    [Fact]
    public void A_folder_without_a_usable_manifest_is_named_for_what_it_lacks()
    {
        var empty = TestData.TempFolder();
        Assert.Contains("has no manifest.json", For(empty).Status.Detail);
        File.WriteAllText(Path.Combine(empty, "manifest.json"), "{ not json");
        Assert.Contains("cannot be used", For(empty).Status.Detail);
    }

    [Fact]
    public void A_job_fails_with_model_unavailable_and_never_fakes_a_video()
    {
        var empty = TestData.TempFolder();
        File.WriteAllText(Path.Combine(empty, "manifest.json"), "{ not json");
        var e = Assert.Throws<Tora.Inference.GenerationException>(() => For(empty).GenerateAsync(null!, null!, default).GetAwaiter().GetResult());
        Assert.Equal("model_unavailable", e.Code);
    }
}
