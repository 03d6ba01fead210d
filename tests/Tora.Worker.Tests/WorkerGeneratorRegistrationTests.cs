using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Tora.Inference;
using Tora.Inference.Pipeline;
using Tora.TestSupport;
using Tora.Worker;

namespace Tora.Worker.Tests;

/// <summary>
/// Which generator a worker process serves jobs with: the ONNX pipeline over the configured model package, or the
/// unavailable generator when none is configured. The hosts are built, not started (no database needed).
/// </summary>
public sealed class WorkerGeneratorRegistrationTests
{
    private static IVideoGenerator Resolve(string? modelPackage) => Build(modelPackage).GetRequiredService<IVideoGenerator>();

    private static IServiceProvider Build(string? modelPackage, IReadOnlyDictionary<string, string?>? worker = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Tora"] = "Host=127.0.0.1;Port=1;Username=nobody;Database=none",
            ["Tora:Storage:Root"] = TestData.TempFolder("tora-blobs"),
            ["Tora:Models:0:Name"] = "tora-real",
            ["Tora:Models:0:NumFrames"] = "49",
            ["Tora:Models:0:Width"] = "96",
            ["Tora:Models:0:Height"] = "64",
            ["Tora:Worker:Model"] = "tora-real",
        };
        if (modelPackage is not null) settings["Tora:Worker:ModelPackage"] = modelPackage;
        foreach (var (key, value) in worker ?? new Dictionary<string, string?>()) settings[$"{WorkerOptions.Section}:{key}"] = value;
        return WorkerHost.CreateBuilder([], settings).Build().Services;
    }

    [Fact]
    public void Worker_settings_are_read_once_into_typed_options()
    {
        var options = Build(null, new Dictionary<string, string?>
        {
            ["VaeTiling"] = "32x48", ["LowMemory"] = "true", ["DeviceIndex"] = "1", ["StorageRetryWindow"] = "00:00:03",
        }).GetRequiredService<IOptions<WorkerOptions>>().Value;
        Assert.Equal(VaeTilingChoice.Parse("32x48"), options.VaeTiling);
        Assert.Equal((true, 1, TimeSpan.FromSeconds(3)), (options.LowMemory, options.DeviceIndex, options.StorageRetryWindow));
        Assert.Equal(VaeTilingChoice.Auto, Build(null).GetRequiredService<IOptions<WorkerOptions>>().Value.VaeTiling);

        // A setting that does not parse stops the worker at start, naming the setting.
        var e = Assert.ThrowsAny<InvalidOperationException>(() =>
            Build(null, new Dictionary<string, string?> { ["VaeTiling"] = "sideways" }).GetRequiredService<IOptions<WorkerOptions>>().Value);
        Assert.Contains("Tora:Worker:VaeTiling", e.Message);
    }

    [Fact]
    public void A_configured_package_is_served_by_the_onnx_pipeline()
    {
        var package = Path.Combine(TestData.TempFolder("tora-worker-package"), "t2v");
        Tora.Models.Package.PackageBuilder.Build(TestData.Path("fixtures/tiny-tora-t2v"), package, Tora.Models.Package.Precision.Fp32);
        var generator = Resolve(package);
        Assert.IsType<ToraVideoGenerator>(generator);
        Assert.True(generator.Status.Ready, generator.Status.Detail);
        Assert.Equal("tora-real", generator.Status.Model);
        Assert.Contains("tora-t2v fp32 package", generator.Status.Detail);
    }

    [Fact]
    public void A_package_that_cannot_be_opened_makes_the_worker_not_ready_and_says_why()
    {
        var generator = Resolve(Path.Combine(TestData.TempFolder(), "missing"));
        Assert.IsType<ToraVideoGenerator>(generator);
        Assert.False(generator.Status.Ready);
        Assert.Contains("does not exist", generator.Status.Detail);
    }

    [Fact]
    public void Without_a_package_the_worker_says_none_is_configured()
    {
        var generator = Resolve(null);
        Assert.IsType<UnavailableVideoGenerator>(generator);
        Assert.Contains("no model package is configured", generator.Status.Detail);
    }
}
