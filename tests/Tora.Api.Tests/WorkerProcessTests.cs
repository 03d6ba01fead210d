using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Tora.TestSupport;

namespace Tora.Api.Tests;

/// <summary>
/// The worker as its own operating-system process, as deployed: it takes jobs from its model's queue. Each scenario
/// (a worker running the real pipeline; a worker whose model package is missing) runs once per class in
/// <see cref="WorkerProcessFixture"/>, and each test checks one promise about its outcome.
/// </summary>
[Collection(ServiceCollection.Name)]
public sealed class WorkerProcessTests(ServiceFixture service, WorkerProcessFixture runs) : IClassFixture<WorkerProcessFixture>
{
    /// <summary>The path deploy/Dockerfile.worker's HEALTHCHECK probes on the worker's metrics port.</summary>
    public const string WorkerHealthPath = "/health/live";

    /// <summary>The real-pipeline run, failing with its worker's log unless the generation succeeded.</summary>
    private async Task<WorkerProcessFixture.Run> SucceededRealRunAsync()
    {
        var run = await runs.RealPipelineAsync(service);
        Assert.True(run.Generation.GetProperty("status").GetString() == "succeeded", $"{run.Generation}\n{run.Worker.Log}");
        return run;
    }

    [Fact]
    public async Task A_worker_process_running_the_real_pipeline_generates_the_coaster_video()
    {
        // The tiny checkpoint in the official layout, compiled as `tora model build` does, run by the real ONNX
        // Tora pipeline in a separate worker process: the whole product path with no fake anywhere.
        await SucceededRealRunAsync();
    }

    [Fact]
    public async Task The_real_pipeline_records_the_cpu_execution_provider_and_the_seed_for_reproducibility()
    {
        var reproducibility = (await SucceededRealRunAsync()).Generation.GetProperty("reproducibility");
        Assert.Equal("CPUExecutionProvider", reproducibility.GetProperty("execution_provider").GetString());
        Assert.Equal(42, reproducibility.GetProperty("seed").GetInt64());
    }

    [Fact]
    public async Task The_real_pipeline_video_has_the_models_49_frames_of_96x64_at_8_fps()
    {
        var run = await SucceededRealRunAsync();
        using var alpha = service.Client(service.AlphaKey);
        var file = Path.Combine(TestData.TempFolder(), "real.mp4");
        await File.WriteAllBytesAsync(file, await alpha.GetByteArrayAsync(run.Location + "/video"));
        var probe = MediaProbe.Probe(file);
        Assert.Equal((49, 96, 64, "8/1"), (probe.Frames, probe.Width, probe.Height, probe.FrameRate));
    }

    [Fact]
    public async Task The_real_pipeline_video_answers_a_range_request_with_206_and_just_those_bytes()
    {
        var run = await SucceededRealRunAsync();
        using var alpha = service.Client(service.AlphaKey);
        using var range = new HttpRequestMessage(HttpMethod.Get, run.Location + "/video");
        range.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(0, 99);
        var partial = await alpha.SendAsync(range);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal(100, (await partial.Content.ReadAsByteArrayAsync()).Length);
    }

    [Fact]
    public async Task The_real_pipeline_video_is_not_found_for_another_tenant()
    {
        var run = await SucceededRealRunAsync();
        using var beta = service.Client(service.BetaKey);
        Assert.Equal(HttpStatusCode.NotFound, (await beta.GetAsync(run.Location + "/video")).StatusCode);
    }

    [Fact]
    public async Task A_separate_worker_process_takes_the_job_and_fails_it_with_model_unavailable_saying_the_package_does_not_exist()
    {
        var run = await runs.MissingPackageAsync(service);
        var g = run.Generation;
        Assert.True(g.GetProperty("status").GetString() == "failed", $"{g}\n{run.Worker.Log}");
        Assert.Equal("model_unavailable", g.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("does not exist", g.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task A_job_failed_for_a_missing_model_package_is_not_retried()
    {
        var run = await runs.MissingPackageAsync(service);
        Assert.True(run.Generation.GetProperty("attempts").GetInt32() == 1, $"{run.Generation}\n{run.Worker.Log}");
    }

    [Fact]
    public async Task The_models_endpoint_counts_the_worker_without_a_package_as_online()
    {
        await runs.MissingPackageAsync(service);
        Assert.Equal(1, (await ProcModelAsync()).GetProperty("workers").GetProperty("online").GetInt32());
    }

    [Fact]
    public async Task The_models_endpoint_says_why_the_model_cannot_run_without_the_servers_package_path()
    {
        await runs.MissingPackageAsync(service);
        // Tenants learn why the model cannot run, not where the server keeps its packages.
        var detail = (await ProcModelAsync()).GetProperty("workers").GetProperty("detail").GetString()!;
        Assert.Contains("<server path>", detail);
        Assert.DoesNotContain("no-such-package", detail);
    }

    [Fact]
    public async Task The_worker_without_a_package_is_live_on_its_own_port()
    {
        // Live: its heartbeat reaches the database, model or not.
        var run = await runs.MissingPackageAsync(service);
        using var status = run.StatusClient();
        var live = await status.GetAsync(WorkerHealthPath);
        Assert.True(live.StatusCode == HttpStatusCode.OK, $"{await live.Content.ReadAsStringAsync()}\n{run.Worker.Log}");
    }

    [Fact]
    public async Task The_worker_without_a_package_is_not_ready_and_says_why()
    {
        var run = await runs.MissingPackageAsync(service);
        using var status = run.StatusClient();
        var ready = await status.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        var readyBody = await ready.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("not_ready", readyBody.GetProperty("status").GetString());
        Assert.Contains("does not exist", readyBody.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task The_worker_serves_its_job_failure_metrics_on_its_own_port()
    {
        var run = await runs.MissingPackageAsync(service);
        using var status = run.StatusClient();
        Assert.Contains("tora_job_failures_total", await status.GetStringAsync("/metrics"));
    }

    /// <summary>The <c>tora-proc</c> entry of <c>GET /v1/models</c>.</summary>
    private async Task<JsonElement> ProcModelAsync()
    {
        using var alpha = service.Client(service.AlphaKey);
        var models = await alpha.GetFromJsonAsync<JsonElement>("/v1/models");
        return models.GetProperty("data").EnumerateArray().Single(m => m.GetProperty("id").GetString() == WorkerProcessFixture.MissingPackageModel);
    }
}

/// <summary>
/// The two worker-process scenarios of <see cref="WorkerProcessTests"/>, each started on first use and kept (with its
/// worker process) until the class's tests are done, so that the tests share one run of each.
/// </summary>
public sealed class WorkerProcessFixture : IAsyncLifetime
{
    /// <summary>The model whose worker runs the real pipeline over the tiny package.</summary>
    public const string RealPipelineModel = "tora-real";
    /// <summary>The model whose worker is pointed at a package that does not exist.</summary>
    public const string MissingPackageModel = "tora-proc";

    private readonly object _gate = new();
    private readonly List<ServiceCluster> _clusters = [];
    private Task<Run>? _realPipeline;
    private Task<Run>? _missingPackage;

    /// <summary>One worker process, the generation it finished and where the API serves it.</summary>
    /// <param name="Worker">The worker process (its log explains failures).</param>
    /// <param name="Location">The generation's URL path.</param>
    /// <param name="Generation">The generation once terminal.</param>
    /// <param name="StatusPort">The worker's own health and metrics port (0: none).</param>
    public sealed record Run(ChildProcess Worker, string Location, JsonElement Generation, int StatusPort)
    {
        /// <summary>A client of the worker's own health and metrics port.</summary>
        public HttpClient StatusClient() => new() { BaseAddress = new Uri($"http://127.0.0.1:{StatusPort}") };
    }

    /// <summary>
    /// The tiny checkpoint in the official layout, compiled as <c>tora model build</c> does, served by a worker process
    /// running the real ONNX pipeline; one two-step coaster generation (seed 42) through it.
    /// </summary>
    public Task<Run> RealPipelineAsync(ServiceFixture service)
    {
        lock (_gate) return _realPipeline ??= RunRealPipelineAsync(service);
    }

    /// <summary>A worker process (with its own status port) pointed at a missing package; one generation through it.</summary>
    public Task<Run> MissingPackageAsync(ServiceFixture service)
    {
        lock (_gate) return _missingPackage ??= RunMissingPackageAsync(service);
    }

    private async Task<Run> RunRealPipelineAsync(ServiceFixture service)
    {
        var package = Path.Combine(TestData.TempFolder(), "package");
        Tora.Models.Package.PackageBuilder.Build(TestData.Path("fixtures/tiny-tora-t2v"), package, Tora.Models.Package.Precision.Fp32);
        var worker = StartWorker(service, RealPipelineModel, "real-pipeline-worker", package, 0);
        using var alpha = service.Client(service.AlphaKey);
        var created = await alpha.PostAsJsonAsync("/v1/generations", new
        {
            model = RealPipelineModel,
            prompt = "A squirrel gathering nuts.",
            steps = 2,
            seed = 42,
            trajectories = new[] { new { points = new[] { new[] { 40, 208 }, new[] { 88, 148 }, new[] { 128, 68 }, new[] { 198, 76 } }, space = "canvas256" } },
        });
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var location = created.Headers.Location!.ToString();
        return new Run(worker, location, await service.WaitForTerminalAsync(alpha, location, TimeSpan.FromSeconds(120)), 0);
    }

    private async Task<Run> RunMissingPackageAsync(ServiceFixture service)
    {
        var statusPort = ServiceCluster.FreePort();
        var worker = StartWorker(service, MissingPackageModel, "child-process-worker",
            Path.Combine(Path.GetTempPath(), $"no-such-package-{Guid.NewGuid():N}"), statusPort);
        using var alpha = service.Client(service.AlphaKey);
        var created = await alpha.PostAsJsonAsync("/v1/generations", new { model = MissingPackageModel, prompt = "in another process" });
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var location = created.Headers.Location!.ToString();
        return new Run(worker, location, await service.WaitForTerminalAsync(alpha, location, TimeSpan.FromSeconds(60)), statusPort);
    }

    /// <summary>Starts Tora.Worker as a child process of a new cluster on the service's database, serving <paramref name="model"/> from <paramref name="package"/>.</summary>
    private ChildProcess StartWorker(ServiceFixture service, string model, string name, string package, int metricsPort)
    {
        var cluster = new ServiceCluster(service.Settings());
        lock (_gate) _clusters.Add(cluster);
        var settings = new Dictionary<string, string>(cluster.Settings)
        {
            ["Tora:Worker:Model"] = model,
            ["Tora:Worker:Name"] = name,
            ["Tora:Worker:ModelPackage"] = package,
            ["Tora:Worker:MetricsPort"] = metricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        return cluster.Start("Tora.Worker.dll", name, settings, []);
    }

    /// <inheritdoc />
    public Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public Task DisposeAsync()
    {
        lock (_gate)
            foreach (var cluster in _clusters) cluster.Dispose();
        return Task.CompletedTask;
    }
}
