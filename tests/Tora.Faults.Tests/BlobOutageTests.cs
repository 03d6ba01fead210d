using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Tora.TestSupport;
using Xunit.Abstractions;

namespace Tora.Faults.Tests;

/// <summary>
/// Fault 4 of issue 11 on the S3 store: the real API (two instances: one redirecting video downloads to signed URLs,
/// one streaming them) and two real workers on their own database, with the blob store on an s3rver emulator the
/// test stops and starts. The workers wait up to 90 s for storage, longer than the outage.
/// </summary>
public sealed class BlobOutageS3Fixture : IAsyncLifetime
{
    private TestDatabase? _database;

    /// <summary>The processes.</summary>
    public ServiceCluster Cluster { get; private set; } = null!;
    /// <summary>The S3 emulator.</summary>
    public S3Emulator S3 { get; private set; } = null!;
    /// <summary>API instance whose video downloads redirect (302) to signed URLs (the S3 default).</summary>
    public ApiInstance Redirecting { get; private set; } = null!;
    /// <summary>API instance that streams video downloads itself (<c>RedirectDownloads=false</c>).</summary>
    public ApiInstance Streaming { get; private set; } = null!;
    /// <summary>Key of tenant alpha.</summary>
    public string AlphaKey { get; private set; } = "";
    /// <summary>The workers.</summary>
    public IReadOnlyList<ChildProcess> Workers { get; private set; } = [];

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync("tora_blob_s3");
        S3 = await S3Emulator.StartNewAsync();
        Cluster = new ServiceCluster(_database.ConnectionString, TestData.TempFolder("blob-s3-unused"));
        foreach (var (k, v) in S3.Settings()) Cluster.Settings[k] = v;
        Cluster.Settings["Tora:Worker:StorageRetryWindow"] = "00:01:30";
        (AlphaKey, _) = await Cluster.PrepareDatabaseAsync();
        _ = TinyPackage.Path;
        Workers = [Cluster.StartWorker("blob-s3-worker-a"), Cluster.StartWorker("blob-s3-worker-b")];
        var apis = await Task.WhenAll(Cluster.StartApiAsync("api-redirect"),
            Cluster.StartApiAsync("api-stream", new Dictionary<string, string> { ["Tora:Storage:S3:RedirectDownloads"] = "false" }));
        (Redirecting, Streaming) = (apis[0], apis[1]);
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        Cluster?.Dispose();
        if (S3 is not null) await S3.DisposeAsync();
        if (_database is not null) await _database.DisposeAsync();
    }
}

/// <summary>The S3 outage tests run alone on their own processes.</summary>
[CollectionDefinition(Name)]
public sealed class BlobOutageS3Collection : ICollectionFixture<BlobOutageS3Fixture>
{
    /// <summary>The collection name.</summary>
    public const string Name = "blob-outage-s3";
}

/// <summary>
/// Fault 4 of issue 11 on the filesystem store: one API and one worker (started by the test) on their own database
/// and blob root, with a storage window of 3 s; the test replaces the root folder with a regular file (tests run as
/// root in CI, so permissions would not stop a write) and puts it back. The tiny model accepts a first frame here so
/// that a worker has one to read from the broken store.
/// </summary>
public sealed class BlobOutageFileSystemFixture : IAsyncLifetime
{
    private TestDatabase? _database;

    /// <summary>The processes.</summary>
    public ServiceCluster Cluster { get; private set; } = null!;
    /// <summary>The API.</summary>
    public ApiInstance Api { get; private set; } = null!;
    /// <summary>Key of tenant alpha.</summary>
    public string AlphaKey { get; private set; } = "";
    /// <summary>The blob root the test breaks.</summary>
    public string BlobRoot { get; } = Path.Combine(TestData.TempFolder("blob-fs"), "root");

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync("tora_blob_fs");
        Directory.CreateDirectory(BlobRoot);
        Cluster = new ServiceCluster(_database.ConnectionString, BlobRoot);
        Cluster.Settings["Tora:Worker:StorageRetryWindow"] = "00:00:03";
        Cluster.Settings["Tora:Models:0:AcceptsFirstFrame"] = "true";
        (AlphaKey, _) = await Cluster.PrepareDatabaseAsync();
        _ = TinyPackage.Path;
        Api = await Cluster.StartApiAsync("api");
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        Cluster?.Dispose();
        if (_database is not null) await _database.DisposeAsync();
        var parent = Path.GetDirectoryName(BlobRoot)!;
        try { Directory.Delete(parent, true); } catch (IOException) { }
    }
}

/// <summary>The filesystem outage tests run alone on their own processes.</summary>
[CollectionDefinition(Name)]
public sealed class BlobOutageFileSystemCollection : ICollectionFixture<BlobOutageFileSystemFixture>
{
    /// <summary>The collection name.</summary>
    public const string Name = "blob-outage-fs";
}

/// <summary>Fault 4 (issue 11): the S3 emulator stopped while generations run, then started again.</summary>
[Collection(BlobOutageS3Collection.Name)]
public sealed class BlobOutageS3Tests(BlobOutageS3Fixture service, ITestOutputHelper output)
{
    [Fact]
    public async Task With_s3_stopped_jobs_wait_the_api_answers_503_and_everything_finishes_once_it_is_back()
    {
        var load = FaultLoad.Requests(4);
        var probe = new OutageProbe();
        using var redirect = service.Redirecting.Client(service.AlphaKey);
        using var stream = service.Streaming.Client(service.AlphaKey);
        using var plain = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var logs = service.Cluster.Logs;

        // A video stored before the outage.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        void Mark(string what) => output.WriteLine($"{clock.Elapsed.TotalSeconds,6:F1} s  {what}");
        var before = await probe.CreateAsync(stream, BlobOutage.Request(1));
        Assert.True(before.Status == HttpStatusCode.Accepted, $"{before.Status} {before.Text}");
        var beforeId = before.Body.GetProperty("id").GetGuid();
        var stored = await GenerationPolling.WaitForTerminalAsync([beforeId], probe.GenerationOf(stream), TimeSpan.FromSeconds(120), BlobOutage.Logs(logs), BlobOutage.Poll);
        Assert.True(stored[0].GetProperty("status").GetString() == "succeeded", $"{stored[0]}\n{logs()}");
        Mark("a video stored before the outage");

        await service.S3.StopAsync();
        var outage = System.Diagnostics.Stopwatch.StartNew();

        // Streamed downloads, thumbnails, deletes and creates with a first frame answer the documented 503.
        await probe.ExpectStorageUnavailableAsync(stream, HttpMethod.Get, $"/v1/generations/{beforeId}/video");
        await probe.ExpectStorageUnavailableAsync(redirect, HttpMethod.Get, $"/v1/generations/{beforeId}/thumbnail");
        await probe.ExpectStorageUnavailableAsync(stream, HttpMethod.Delete, $"/v1/generations/{beforeId}");
        Assert.Equal("succeeded", (await probe.GetJsonAsync(stream, $"/v1/generations/{beforeId}")).GetProperty("status").GetString());
        // The redirecting instance signs a URL without calling the store: the client then meets the outage itself.
        Assert.Equal(HttpStatusCode.Redirect, (await probe.SendAsync(redirect, HttpMethod.Get, $"/v1/generations/{beforeId}/video")).StatusCode);
        var refused = await probe.CreateAsync(redirect, BlobOutage.FrameRequest(ServiceCluster.QueuedModel));
        BlobOutage.AssertStorageUnavailable(refused.Response, refused.Text);
        await probe.ExpectReadyStorageDownAsync(stream);

        // The load, accepted during the outage (creating without a first frame does not touch the store).
        var ids = new List<Guid>();
        for (var i = 0; i < load; i++)
        {
            var created = await probe.CreateAsync(i % 2 == 0 ? redirect : stream, BlobOutage.Request(100 + i));
            Assert.True(created.Status == HttpStatusCode.Accepted, $"{created.Status} {created.Text}");
            ids.Add(created.Body.GetProperty("id").GetGuid());
        }

        // Both workers finish their videos and wait, running, with the phase showing why; nothing downloads meanwhile.
        var waiting = new HashSet<Guid>();
        var states = new HashSet<string>();
        await Wait.UntilAsync(async () =>
        {
            foreach (var id in ids)
            {
                var g = await probe.GetJsonAsync(stream, $"/v1/generations/{id}");
                var status = g.GetProperty("status").GetString();
                var phase = g.GetProperty("progress").GetProperty("phase").GetString();
                Assert.True(status is "queued" or "running", $"{g}\n{logs()}");
                if (phase == "waiting_for_storage")
                {
                    Assert.Equal("running", status);
                    waiting.Add(id);
                }
                // In every state a generation passes through before it succeeds, its video is not served (409 not_ready).
                if (states.Add($"{id}/{status}/{phase}"))
                    Assert.Equal(HttpStatusCode.Conflict, (await probe.SendAsync(stream, HttpMethod.Get, $"/v1/generations/{id}/video")).StatusCode);
            }
            return waiting.Count >= Math.Min(2, load);
        }, TimeSpan.FromSeconds(90), () => $"no worker waited for storage\n{logs()}", BlobOutage.WatchPoll);
        var outageSeconds = outage.Elapsed.TotalSeconds;
        Mark("probes answered, load accepted, both workers waiting");

        await service.S3.StartAsync();
        var recovery = System.Diagnostics.Stopwatch.StartNew();

        // Every generation succeeds on its first attempt (the pipeline never ran twice), with one video and one thumbnail.
        var done = await GenerationPolling.WaitForTerminalAsync(ids, probe.GenerationOf(stream), TimeSpan.FromSeconds(60 + 10 * load), BlobOutage.Logs(logs), BlobOutage.Poll);
        var recoverySeconds = recovery.Elapsed.TotalSeconds;
        Mark("emulator started; the load succeeded");
        var completed = 0;
        var duplicated = 0;
        foreach (var g in done)
        {
            Assert.True(g.GetProperty("status").GetString() == "succeeded", $"{g}\n{logs()}");
            Assert.Equal(1, g.GetProperty("attempts").GetInt32());
            var id = g.GetProperty("id").GetGuid();
            var objects = StoredObjects(id);
            Assert.Equal(new[] { "thumbnail.jpg", "video.mp4" }, objects);
            duplicated += objects.Length - 2;
            var streamed = await BlobOutage.DownloadVideoAsync(probe, stream, id);
            var signed = await probe.SendAsync(redirect, HttpMethod.Get, $"/v1/generations/{id}/video");
            Assert.Equal(HttpStatusCode.Redirect, signed.StatusCode);
            Assert.Equal(streamed, await plain.GetByteArrayAsync(signed.Headers.Location));
            Assert.Equal(HttpStatusCode.OK, (await probe.SendAsync(redirect, HttpMethod.Get, $"/v1/generations/{id}/thumbnail")).StatusCode);
            completed++;
        }

        // Everything works again without restarting anything: readiness, downloads, deletes, creates with a first frame.
        await probe.ExpectReadyStorageUpAsync(stream);
        await BlobOutage.DownloadVideoAsync(probe, stream, beforeId);
        Assert.Equal(HttpStatusCode.NoContent, (await probe.SendAsync(stream, HttpMethod.Delete, $"/v1/generations/{beforeId}")).StatusCode);
        Assert.Empty(StoredObjects(beforeId));
        completed++;
        var after = await probe.CreateAsync(redirect, BlobOutage.FrameRequest(ServiceCluster.QueuedModel));
        Assert.True(after.Status == HttpStatusCode.Accepted, $"{after.Status} {after.Text}");
        var afterId = after.Body.GetProperty("id").GetGuid();
        Assert.Single(StoredObjects(afterId));
        Assert.Equal(HttpStatusCode.NoContent, (await probe.SendAsync(redirect, HttpMethod.Delete, $"/v1/generations/{afterId}")).StatusCode);
        Assert.Empty(StoredObjects(afterId));
        completed++;
        Mark("downloads checked, cleaned up");
        Assert.True(service.Workers.All(w => !w.Process.HasExited) && !service.Redirecting.Process.Process.HasExited
            && !service.Streaming.Process.Process.HasExited, "a process exited");

        Assert.True(probe.ServerErrors.Count == 0, string.Join("\n", probe.ServerErrors));
        var accepted = probe.Accepted;
        Assert.Equal(load + 2, accepted);
        Assert.Equal(accepted, completed);
        new FaultFigures("S3 emulator stopped while generations run, then started", probe.Sent, accepted, completed,
            Lost: accepted - completed, duplicated, probe.ServerErrors.Count,
            $"{load} generations accepted during a {outageSeconds:F1} s outage waited (phase waiting_for_storage, " +
            $"{waiting.Count} seen waiting) and all succeeded on attempt 1, {recoverySeconds:F1} s after the emulator came back; " +
            $"{probe.Outage503} documented 503 storage_unavailable (video stream, thumbnail, delete, create with a first frame) and " +
            $"/health/ready 503 with storage down; signed video URLs still issued (302); statuses {probe.StatusCounts}").Report(output);
    }

    /// <summary>File names of the objects s3rver holds under a generation's key prefix.</summary>
    private string[] StoredObjects(Guid id)
    {
        var folder = Path.Combine(service.S3.Folder, S3Emulator.Bucket, "alpha", id.ToString("N"));
        if (!Directory.Exists(folder)) return [];
        const string suffix = "._S3rver_object";
        return Directory.EnumerateFiles(folder).Select(Path.GetFileName).Where(f => f!.EndsWith(suffix, StringComparison.Ordinal))
            .Select(f => f![..^suffix.Length]).Order(StringComparer.Ordinal).ToArray();
    }
}

/// <summary>Fault 4 (issue 11): the filesystem blob root replaced by a regular file for longer than the worker's window, then restored.</summary>
[Collection(BlobOutageFileSystemCollection.Name)]
public sealed class BlobOutageFileSystemTests(BlobOutageFileSystemFixture service, ITestOutputHelper output)
{
    [Fact]
    public async Task With_the_blob_root_unusable_past_the_window_jobs_fail_with_storage_unavailable_leaving_nothing_and_new_jobs_succeed_after()
    {
        var load = FaultLoad.Requests(2);
        var probe = new OutageProbe();
        using var alpha = service.Api.Client(service.AlphaKey);
        var logs = service.Cluster.Logs;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        void Mark(string what) => output.WriteLine($"{clock.Elapsed.TotalSeconds,6:F1} s  {what}");
        ChildProcess? worker = null;
        try
        {
            // Accepted while the store works, with no worker yet: its first frame is stored and it waits in the queue.
            var framed = await probe.CreateAsync(alpha, BlobOutage.FrameRequest(ServiceCluster.Model));
            Assert.True(framed.Status == HttpStatusCode.Accepted, $"{framed.Status} {framed.Text}");
            var framedId = framed.Body.GetProperty("id").GetGuid();

            BreakRoot();
            var refused = await probe.CreateAsync(alpha, BlobOutage.FrameRequest(ServiceCluster.Model));
            BlobOutage.AssertStorageUnavailable(refused.Response, refused.Text);
            await probe.ExpectReadyStorageDownAsync(alpha);
            var ids = new List<Guid>();
            for (var i = 0; i < load; i++)
            {
                var created = await probe.CreateAsync(alpha, BlobOutage.Request(200 + i));
                Assert.True(created.Status == HttpStatusCode.Accepted, $"{created.Status} {created.Text}");
                ids.Add(created.Body.GetProperty("id").GetGuid());
            }
            worker = service.Cluster.StartWorker("blob-fs-worker");
            Mark("root broken, load accepted, worker started");

            // Each waits for the store (the first frame before the pipeline; the others with their video made), then fails.
            var seenWaiting = new HashSet<Guid>();
            var all = ids.Prepend(framedId).ToList();
            // A worker start, then per generation the pipeline and the 3 s window (a few seconds each on a loaded machine).
            var limit = TimeSpan.FromSeconds(60 + 15 * all.Count);
            var states = new HashSet<string>();
            var read = probe.GenerationOf(alpha);
            var done = await GenerationPolling.WaitForTerminalAsync(all, async id =>
            {
                var g = await read(id);
                var status = g.GetProperty("status").GetString();
                var phase = g.GetProperty("progress").GetProperty("phase").GetString();
                if (status == "running" && phase == "waiting_for_storage") seenWaiting.Add(id);
                // In every state it passes through, waiting and failed included, its video is not served (409 not_ready).
                if (states.Add($"{id}/{status}/{phase}"))
                    Assert.Equal(HttpStatusCode.Conflict, (await probe.SendAsync(alpha, HttpMethod.Get, $"/v1/generations/{id}/video")).StatusCode);
                return g;
            }, limit, BlobOutage.Logs(logs), BlobOutage.WatchPoll);
            Mark("all failed");
            var completed = 0;
            foreach (var g in done)
            {
                Assert.True(g.GetProperty("status").GetString() == "failed", $"{g}\n{logs()}");
                Assert.Equal("storage_unavailable", g.GetProperty("error").GetProperty("code").GetString());
                Assert.Equal(1, g.GetProperty("attempts").GetInt32());
                completed++;
            }
            Assert.NotEmpty(seenWaiting);
            Assert.Equal("not a folder", await File.ReadAllTextAsync(service.BlobRoot));

            // Restore the root: nothing partial was left, and everything works again without restarting a process.
            RestoreRoot();
            Assert.Empty(Directory.EnumerateFiles(service.BlobRoot, "*.tmp", SearchOption.AllDirectories));
            foreach (var id in ids) Assert.False(Directory.Exists(Path.Combine(service.BlobRoot, "alpha", id.ToString("N"))), $"files left for failed {id}");
            Assert.Equal(new[] { "first-frame.png" }, Files(framedId));
            await probe.ExpectReadyStorageUpAsync(alpha);
            var after = await probe.CreateAsync(alpha, BlobOutage.Request(3));
            Assert.True(after.Status == HttpStatusCode.Accepted, $"{after.Status} {after.Text}");
            var afterId = after.Body.GetProperty("id").GetGuid();
            var finished = await GenerationPolling.WaitForTerminalAsync([afterId], probe.GenerationOf(alpha), TimeSpan.FromSeconds(120), BlobOutage.Logs(logs), BlobOutage.Poll);
            Assert.True(finished[0].GetProperty("status").GetString() == "succeeded", $"{finished[0]}\n{logs()}");
            Assert.Equal(new[] { "thumbnail.jpg", "video.mp4" }, Files(afterId));
            var video0 = await BlobOutage.DownloadVideoAsync(probe, alpha, afterId);
            Mark("restored; a new generation succeeded");

            // A stored video behind a broken root: 503 for the download, the thumbnail and the delete (which keeps the record).
            BreakRoot();
            await probe.ExpectStorageUnavailableAsync(alpha, HttpMethod.Get, $"/v1/generations/{afterId}/video");
            await probe.ExpectStorageUnavailableAsync(alpha, HttpMethod.Get, $"/v1/generations/{afterId}/thumbnail");
            await probe.ExpectStorageUnavailableAsync(alpha, HttpMethod.Delete, $"/v1/generations/{afterId}");
            Assert.Equal("succeeded", (await probe.GetJsonAsync(alpha, $"/v1/generations/{afterId}")).GetProperty("status").GetString());
            RestoreRoot();
            Assert.Equal(video0, await BlobOutage.DownloadVideoAsync(probe, alpha, afterId));
            Assert.Equal(HttpStatusCode.NoContent, (await probe.SendAsync(alpha, HttpMethod.Delete, $"/v1/generations/{afterId}")).StatusCode);
            Assert.Empty(Files(afterId));
            completed++;
            Assert.Equal(HttpStatusCode.NoContent, (await probe.SendAsync(alpha, HttpMethod.Delete, $"/v1/generations/{framedId}")).StatusCode);
            Assert.Empty(Files(framedId));
            Assert.Empty(Directory.EnumerateFiles(service.BlobRoot, "*.tmp", SearchOption.AllDirectories));
            Assert.False(worker.Process.HasExited || service.Api.Process.Process.HasExited, "a process exited");
            Mark("cleaned up");

            Assert.True(probe.ServerErrors.Count == 0, string.Join("\n", probe.ServerErrors));
            var accepted = probe.Accepted;
            Assert.Equal(load + 2, accepted);
            Assert.Equal(accepted, completed);
            new FaultFigures("Filesystem blob root replaced by a file for longer than the 3 s storage window, then restored",
                probe.Sent, accepted, completed, Lost: accepted - completed, Duplicated: 0, probe.ServerErrors.Count,
                $"{load + 1} generations (one reading its first frame, {load} storing their video) failed with storage_unavailable " +
                $"on attempt 1 ({seenWaiting.Count} seen waiting), no file or *.tmp left; after the root came back a new generation " +
                $"succeeded on the same processes; {probe.Outage503} documented 503 storage_unavailable (create with a first frame, " +
                $"video, thumbnail, delete) and /health/ready 503 with storage down; statuses {probe.StatusCounts}").Report(output);
        }
        finally
        {
            RestoreRoot();
            worker?.Stop();
        }
    }

    private string Away => service.BlobRoot + ".away";

    /// <summary>Moves the root folder away and puts a regular file at its path.</summary>
    private void BreakRoot()
    {
        Directory.Move(service.BlobRoot, Away);
        File.WriteAllText(service.BlobRoot, "not a folder");
    }

    private void RestoreRoot()
    {
        if (!Directory.Exists(Away)) return;
        File.Delete(service.BlobRoot);
        Directory.Move(Away, service.BlobRoot);
    }

    private string[] Files(Guid id)
    {
        var folder = Path.Combine(service.BlobRoot, "alpha", id.ToString("N"));
        return Directory.Exists(folder) ? Directory.EnumerateFiles(folder).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToArray() : [];
    }
}

/// <summary>
/// Sends the requests of an outage test and classifies every answer: 5xx other than the documented
/// <c>503 storage_unavailable</c> (problem+json with Retry-After) are server errors.
/// </summary>
internal sealed class OutageProbe
{
    private readonly Dictionary<int, int> _statuses = [];

    /// <summary>Create requests sent.</summary>
    public int Sent { get; private set; }
    /// <summary>Create requests answered 2xx.</summary>
    public int Accepted { get; private set; }
    /// <summary>Documented 503 answers.</summary>
    public int Outage503 { get; private set; }
    /// <summary>Undocumented 5xx answers.</summary>
    public List<string> ServerErrors { get; } = [];
    /// <summary>How many answers had each status.</summary>
    public string StatusCounts => string.Join(", ", _statuses.OrderBy(p => p.Key).Select(p => $"{p.Key} × {p.Value}"));

    public async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpRequestMessage request)
    {
        var what = $"{request.Method} {request.RequestUri}";
        // The readiness probe's 503 is its documented "not ready" answer (a JSON report, not a problem).
        var readiness = request.RequestUri?.OriginalString == "/health/ready";
        var response = await client.SendAsync(request);
        var status = (int)response.StatusCode;
        _statuses[status] = _statuses.GetValueOrDefault(status) + 1;
        if (status >= 500)
        {
            await response.Content.LoadIntoBufferAsync();
            var body = await response.Content.ReadAsStringAsync();
            if (BlobOutage.IsStorageUnavailable(response, body)) Outage503++;
            else if (!(status == 503 && readiness))
                ServerErrors.Add($"{what}: {status} {body}");
        }
        return response;
    }

    public Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string url) => SendAsync(client, new HttpRequestMessage(method, url));

    public async Task<JsonElement> GetJsonAsync(HttpClient client, string url)
    {
        var response = await SendAsync(client, HttpMethod.Get, url);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url}: {response.StatusCode}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>Reads a generation (<c>GET /v1/generations/{id}</c>) through <paramref name="client"/>, counting the answers.</summary>
    public Func<Guid, Task<JsonElement>> GenerationOf(HttpClient client) => id => GetJsonAsync(client, $"/v1/generations/{id}");

    /// <summary>POST /v1/generations; counted as load.</summary>
    public async Task<(HttpStatusCode Status, JsonElement Body, string Text, HttpResponseMessage Response)> CreateAsync(HttpClient client, object body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/generations") { Content = JsonContent.Create(body) };
        Sent++;
        var response = await SendAsync(client, request);
        if (response.IsSuccessStatusCode) Accepted++;
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone(), text, response);
    }

    public async Task ExpectStorageUnavailableAsync(HttpClient client, HttpMethod method, string url)
    {
        var response = await SendAsync(client, method, url);
        BlobOutage.AssertStorageUnavailable(response, await response.Content.ReadAsStringAsync());
    }

    public async Task ExpectReadyStorageDownAsync(HttpClient client)
    {
        var response = await SendAsync(client, HttpMethod.Get, "/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.False(StorageCheck(await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ok").GetBoolean());
    }

    public async Task ExpectReadyStorageUpAsync(HttpClient client)
    {
        var response = await SendAsync(client, HttpMethod.Get, "/health/ready");
        var check = StorageCheck(await response.Content.ReadFromJsonAsync<JsonElement>());
        Assert.True(check.GetProperty("ok").GetBoolean(), check.ToString());
    }

    private static JsonElement StorageCheck(JsonElement report) =>
        report.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "storage");
}

/// <summary>Requests and checks shared by the blob outage tests.</summary>
internal static class BlobOutage
{
    /// <summary>How often a test waiting for generations to finish reads them.</summary>
    public static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);
    /// <summary>How often a test watching every state of its generations (and probing each new one) reads them.</summary>
    public static readonly TimeSpan WatchPoll = TimeSpan.FromMilliseconds(250);

    /// <summary>A diagnosis for unfinished generations: the output of every process.</summary>
    public static Func<IReadOnlyList<Guid>, Task<string>> Logs(Func<string> logs) => _ => Task.FromResult(logs());

    private static readonly string FoxDataUri =
        "data:image/png;base64," + Convert.ToBase64String(File.ReadAllBytes(TestData.Path("tora-data/images/fox.png")));

    /// <summary>A short text-to-video generation on the tiny model.</summary>
    public static object Request(int seed) => new
    {
        model = ServiceCluster.Model,
        prompt = "A paper boat drifting on a pond.",
        seed,
        trajectories = new[] { new { points = new[] { new[] { 40, 200 }, new[] { 120, 120 }, new[] { 200, 60 } }, space = "canvas256" } },
    };

    /// <summary>A generation with a first frame (the API stores it before answering).</summary>
    public static object FrameRequest(string model) => new { model, prompt = "A fox in the snow.", seed = 5, image = FoxDataUri };

    public static bool IsStorageUnavailable(HttpResponseMessage response, string body)
    {
        if (response.StatusCode != HttpStatusCode.ServiceUnavailable || response.Content.Headers.ContentType?.MediaType != "application/problem+json"
            || response.Headers.RetryAfter is null) return false;
        try
        {
            return JsonDocument.Parse(body).RootElement.GetProperty("code").GetString() == "storage_unavailable";
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return false;
        }
    }

    public static void AssertStorageUnavailable(HttpResponseMessage response, string body) =>
        Assert.True(IsStorageUnavailable(response, body),
            $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: expected 503 storage_unavailable problem+json with Retry-After, got " +
            $"{(int)response.StatusCode} {response.Content.Headers.ContentType} Retry-After={response.Headers.RetryAfter}: {body}");

    /// <summary>Downloads the whole video through the API and checks it against its strong ETag (SHA-256 prefix of the stored file).</summary>
    public static async Task<byte[]> DownloadVideoAsync(OutageProbe probe, HttpClient client, Guid id)
    {
        var response = await probe.SendAsync(client, HttpMethod.Get, $"/v1/generations/{id}/video");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(response.Content.Headers.ContentLength, bytes.Length);
        Assert.Equal("ftyp", System.Text.Encoding.ASCII.GetString(bytes, 4, 4));
        Assert.Equal(response.Headers.ETag!.Tag, "\"" + Convert.ToHexStringLower(SHA256.HashData(bytes))[..32] + "\"");
        return bytes;
    }
}
