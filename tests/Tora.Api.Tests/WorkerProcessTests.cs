using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Tora.TestSupport;

namespace Tora.Api.Tests;

/// <summary>The worker as its own operating-system process, as deployed: it takes jobs from its model's queue.</summary>
[Collection(ServiceCollection.Name)]
public sealed class WorkerProcessTests(ServiceFixture service)
{
    /// <summary>The path deploy/Dockerfile.worker's HEALTHCHECK probes on the worker's metrics port.</summary>
    public const string WorkerHealthPath = "/health/live";

    /// <summary>Starts Tora.Worker as a child process of <paramref name="cluster"/> serving <paramref name="model"/> from <paramref name="package"/>.</summary>
    private ChildProcess StartWorker(ServiceCluster cluster, string model, string name, string package, int metricsPort = 0)
    {
        var settings = new Dictionary<string, string>(cluster.Settings)
        {
            ["Tora:Worker:Model"] = model,
            ["Tora:Worker:Name"] = name,
            ["Tora:Worker:ModelPackage"] = package,
            ["Tora:Worker:MetricsPort"] = metricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        return cluster.Start("Tora.Worker.dll", name, settings, []);
    }

    [Fact]
    public async Task A_worker_process_running_the_real_pipeline_generates_the_coaster_video()
    {
        // The tiny checkpoint in the official layout, compiled as `tora model build` does, run by the real ONNX
        // Tora pipeline in a separate worker process: the whole product path with no fake anywhere.
        var package = Path.Combine(TestData.TempFolder(), "package");
        Tora.Models.Package.PackageBuilder.Build(TestData.Path("fixtures/tiny-tora-t2v"), package, Tora.Models.Package.Precision.Fp32);
        using var cluster = new ServiceCluster(service.Settings());
        var worker = StartWorker(cluster, "tora-real", "real-pipeline-worker", package);
        {
            using var alpha = service.Client(service.AlphaKey);
            var created = await alpha.PostAsJsonAsync("/v1/generations", new
            {
                model = "tora-real",
                prompt = "A squirrel gathering nuts.",
                steps = 2,
                seed = 42,
                trajectories = new[] { new { points = new[] { new[] { 40, 208 }, new[] { 88, 148 }, new[] { 128, 68 }, new[] { 198, 76 } }, space = "canvas256" } },
            });
            Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
            var location = created.Headers.Location!.ToString();
            var g = await service.WaitForTerminalAsync(alpha, location, TimeSpan.FromSeconds(120));
            Assert.True(g.GetProperty("status").GetString() == "succeeded", $"{g}\n{worker.Log}");
            var reproducibility = g.GetProperty("reproducibility");
            Assert.Equal("CPUExecutionProvider", reproducibility.GetProperty("execution_provider").GetString());
            Assert.Equal(42, reproducibility.GetProperty("seed").GetInt64());

            using var range = new HttpRequestMessage(HttpMethod.Get, location + "/video");
            range.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(0, 99);
            var partial = await alpha.SendAsync(range);
            Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
            Assert.Equal(100, (await partial.Content.ReadAsByteArrayAsync()).Length);

            var file = Path.Combine(TestData.TempFolder(), "real.mp4");
            await File.WriteAllBytesAsync(file, await alpha.GetByteArrayAsync(location + "/video"));
            var probe = MediaProbe.Probe(file);
            Assert.Equal((49, 96, 64, "8/1"), (probe.Frames, probe.Width, probe.Height, probe.FrameRate));

            using var beta = service.Client(service.BetaKey);
            Assert.Equal(HttpStatusCode.NotFound, (await beta.GetAsync(location + "/video")).StatusCode);
        }
    }

    [Fact]
    public async Task A_separate_worker_process_takes_the_job_and_reports_its_missing_model_package()
    {
        var statusPort = ServiceCluster.FreePort();
        using var cluster = new ServiceCluster(service.Settings());
        var worker = StartWorker(cluster, "tora-proc", "child-process-worker",
            Path.Combine(Path.GetTempPath(), $"no-such-package-{Guid.NewGuid():N}"), statusPort);
        {
            using var alpha = service.Client(service.AlphaKey);
            var created = await alpha.PostAsJsonAsync("/v1/generations", new { model = "tora-proc", prompt = "in another process" });
            Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
            var g = await service.WaitForTerminalAsync(alpha, created.Headers.Location!.ToString(), TimeSpan.FromSeconds(60));
            Assert.True(g.GetProperty("status").GetString() == "failed", $"{g}\n{worker.Log}");
            Assert.Equal("model_unavailable", g.GetProperty("error").GetProperty("code").GetString());
            Assert.Contains("does not exist", g.GetProperty("error").GetProperty("message").GetString());
            Assert.Equal(1, g.GetProperty("attempts").GetInt32());

            var models = await alpha.GetFromJsonAsync<JsonElement>("/v1/models");
            var proc = models.GetProperty("data").EnumerateArray().Single(m => m.GetProperty("id").GetString() == "tora-proc");
            Assert.Equal(1, proc.GetProperty("workers").GetProperty("online").GetInt32());
            // Tenants learn why the model cannot run, not where the server keeps its packages.
            var detail = proc.GetProperty("workers").GetProperty("detail").GetString()!;
            Assert.Contains("<server path>", detail);
            Assert.DoesNotContain("no-such-package", detail);

            // The worker's own port: live (its heartbeat reaches the database), not ready (no model), metrics.
            using var status = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{statusPort}") };
            var live = await status.GetAsync(WorkerHealthPath);
            Assert.True(live.StatusCode == HttpStatusCode.OK, $"{await live.Content.ReadAsStringAsync()}\n{worker.Log}");
            var ready = await status.GetAsync("/health/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            var readyBody = await ready.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("not_ready", readyBody.GetProperty("status").GetString());
            Assert.Contains("does not exist", readyBody.GetProperty("detail").GetString());
            Assert.Contains("tora_job_failures_total", await status.GetStringAsync("/metrics"));
        }
    }
}
