using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Tora.Api.Tests;
using Tora.Core.Tenancy;
using Tora.TestSupport;

namespace Tora.Client.Tests;

/// <summary>
/// Stoplight Prism's validating proxy in front of the running service (Kestrel on loopback), fed a realistic mix of
/// every operation: successes, problem answers, conditional and range requests, multipart with a first frame, SSE,
/// webhooks. Prism marks every exchange that breaks openapi.yaml with an <c>sl-violations</c> header: a valid request
/// must carry none at all, a request the API refuses must be refused by the request schema too (when a schema can
/// say so), and no answer may break its response schema.
/// </summary>
[Collection(ClientServiceCollection.Name)]
public sealed class PrismProxyTests(ServiceFixture service) : IAsyncLifetime
{
    private Uri _api = null!;
    private Process _prism = null!;
    private readonly StringBuilder _prismLog = new();
    private HttpClient _http = null!;
    private string _key = "";

    /// <summary>What Prism said about each exchange, for the failure message.</summary>
    private readonly List<string> _violations = [];

    public async Task InitializeAsync()
    {
        _api = service.KestrelApiUrl();
        _key = (await service.Api.Services.GetRequiredService<ApiKeyStore>().CreateAsync("prism", false, default)).Key;
        var port = FreePort();
        var psi = new ProcessStartInfo(NodeTools.Tool("prism"),
            ["proxy", Path.Combine(TestData.RepositoryRoot, "openapi.yaml"), _api.ToString().TrimEnd('/'), "--host", "127.0.0.1", "--port", port.ToString()])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["NO_COLOR"] = "1";
        _prism = Process.Start(psi)!;
        _prism.OutputDataReceived += (_, e) => { lock (_prismLog) _prismLog.AppendLine(e.Data); };
        _prism.ErrorDataReceived += (_, e) => { lock (_prismLog) _prismLog.AppendLine(e.Data); };
        _prism.BeginOutputReadLine();
        _prism.BeginErrorReadLine();
        await Wait.UntilListeningAsync(_prism, port, TimeSpan.FromSeconds(60), () => { lock (_prismLog) return $"Prism: {_prismLog}"; });
        _http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        if (!_prism.HasExited) _prism.Kill(entireProcessTree: true);
        await _prism.WaitForExitAsync();
        _prism.Dispose();
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>Sends one request through Prism; records its violations (all of them, or only the response's when the request is meant to be invalid).</summary>
    private async Task<HttpResponseMessage> SendAsync(string name, HttpMethod method, string path, HttpContent? content = null,
        Action<HttpRequestHeaders>? headers = null, bool anonymous = false, int? expect = null, bool invalidRequest = false)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        if (!anonymous) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _key);
        headers?.Invoke(request.Headers);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request);
        }
        catch (HttpRequestException dropped)
        {
            string log;
            lock (_prismLog) log = _prismLog.ToString();
            throw new InvalidOperationException($"{name}: Prism dropped the connection ({dropped.Message}); its log:\n{log[Math.Max(0, log.Length - 4000)..]}", dropped);
        }
        await response.Content.LoadIntoBufferAsync();
        var status = (int)response.StatusCode;
        if (expect is { } e && e != status)
            _violations.Add($"{name}: expected {e}, got {status}: {await response.Content.ReadAsStringAsync()}");
        var found = response.Headers.TryGetValues("sl-violations", out var v) ? JsonDocument.Parse(string.Join("", v)).RootElement.EnumerateArray().ToList() : [];
        var requestViolations = found.Where(x => x.GetProperty("location")[0].GetString() == "request").ToList();
        var responseViolations = found.Except(requestViolations).ToList();
        foreach (var x in responseViolations) _violations.Add($"{name} ({status}): response {x}");
        if (invalidRequest && requestViolations.Count == 0)
            _violations.Add($"{name}: the API refused it ({status}) but openapi.yaml's request schema accepts it");
        if (!invalidRequest) foreach (var x in requestViolations) _violations.Add($"{name}: a valid request flagged: {x}");
        return response;
    }

    private static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    private static readonly double[][] Coaster = [[40, 208], [88, 148], [128, 68], [198, 76]];

    /// <summary>The generation once it is terminal (or as it is after a minute), every poll going through Prism.</summary>
    private async Task<JsonElement> WaitAsync(string location) =>
        await Wait.ForAsync(async () => await (await SendAsync("poll", HttpMethod.Get, location, expect: 200)).Content.ReadFromJsonAsync<JsonElement>(),
            GenerationPolling.IsTerminal, TimeSpan.FromSeconds(60));

    [Fact]
    public async Task Prism_finds_no_violation_over_a_mix_of_every_operation()
    {
        // Models, presets, preview.
        await SendAsync("models", HttpMethod.Get, "/v1/models", expect: 200);
        await SendAsync("presets", HttpMethod.Get, "/v1/trajectories/presets", expect: 200);
        await SendAsync("preview flow", HttpMethod.Post, "/v1/trajectories/preview",
            Json(new { trajectories = new[] { new { points = Coaster, space = "canvas256" } }, mode = "flow", fps = 8 }), expect: 200);
        await SendAsync("health live", HttpMethod.Get, "/health/live", anonymous: true, expect: 200);
        await SendAsync("health ready", HttpMethod.Get, "/health/ready", anonymous: true);

        // Create with an Idempotency-Key (quoted, as the draft spells it), wait for it, replay it.
        var key = $"\"{Guid.NewGuid()}\"";
        var body = new
        {
            model = "tora-tiny", prompt = "a roller coaster", steps = 3, seed = 5,
            trajectories = new[] { new { points = Coaster, space = "canvas256" } },
            metadata = new Dictionary<string, string> { ["user"] = "prism" },
            webhook = new { url = "http://127.0.0.1:9/hooks", events = new[] { "generation.succeeded" } },
        };
        var created = await SendAsync("create wait", HttpMethod.Post, "/v1/generations", Json(body),
            h => { h.Add("Idempotency-Key", key); h.Add("Prefer", "wait=30"); }, expect: 201);
        NoViolationsSoFar();
        var location = created.Headers.Location!.ToString();
        await SendAsync("create replay", HttpMethod.Post, "/v1/generations", Json(body), h => h.Add("Idempotency-Key", key), expect: 202);
        await SendAsync("create reused key", HttpMethod.Post, "/v1/generations", Json(body with { seed = 6 }), h => h.Add("Idempotency-Key", key), expect: 422);
        var done = await WaitAsync(location);
        Assert.Equal("succeeded", done.GetProperty("status").GetString());

        // Downloads: whole, conditional, ranges, thumbnail; the event stream of the finished generation.
        var video = await SendAsync("video", HttpMethod.Get, location + "/video", expect: 200);
        var etag = video.Headers.ETag!.Tag;
        await SendAsync("video not modified", HttpMethod.Get, location + "/video", headers: h => h.Add("If-None-Match", etag), expect: 304);
        await SendAsync("video range", HttpMethod.Get, location + "/video", headers: h => h.Add("Range", "bytes=0-99"), expect: 206);
        await SendAsync("video bad range", HttpMethod.Get, location + "/video", headers: h => h.Add("Range", "bytes=999999999-"), expect: 416);
        await SendAsync("thumbnail", HttpMethod.Get, location + "/thumbnail", expect: 200);
        await SendAsync("events", HttpMethod.Get, location + "/events", expect: 200);
        await SendAsync("events resumed", HttpMethod.Get, location + "/events?last_event_id=1", expect: 200);

        // Multipart with a first frame.
        // Part headers as browsers write them (quoted file name): Prism's multipart parser needs the quotes.
        var image = new ByteArrayContent(await File.ReadAllBytesAsync(TestData.Path("tora-data/images/fox.png")))
        {
            Headers =
            {
                ContentType = new MediaTypeHeaderValue("image/png"),
                ContentDisposition = new ContentDispositionHeaderValue("form-data") { Name = "\"image\"", FileName = "\"fox.png\"" },
            },
        };
        var form = new MultipartFormDataContent
        {
            { new StringContent(JsonSerializer.Serialize(new { model = "tora-tiny", prompt = "a fox", steps = 2 }), Encoding.UTF8, "application/json"), "request" },
        };
        form.Add(image);
        // Prism validates the multipart request against its schema, but forwards the body re-encoded as text, which
        // corrupts the binary image part on its way (Prism 5.16): the API then answers the declared 422 invalid_image.
        // The real multipart create, bytes intact, is GeneratedClientTests' (its 202 body is the schema checked above).
        var withImage = await SendAsync("create multipart", HttpMethod.Post, "/v1/generations", form, expect: 422);
        Assert.Equal("/image", (await withImage.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors")[0].GetProperty("pointer").GetString());

        // A queued generation (no worker serves tora-text): read, file not ready, cancel, delete; then 404s.
        var queued = await SendAsync("create queued", HttpMethod.Post, "/v1/generations", Json(new { model = "tora-text", prompt = "waits" }), expect: 202);
        NoViolationsSoFar();
        var q = queued.Headers.Location!.ToString();
        await SendAsync("get queued", HttpMethod.Get, q, expect: 200);
        await SendAsync("video not ready", HttpMethod.Get, q + "/video", expect: 409);
        await SendAsync("cancel", HttpMethod.Post, q + "/cancel", expect: 200);
        await SendAsync("cancel again", HttpMethod.Post, q + "/cancel", expect: 409);
        await SendAsync("delete", HttpMethod.Delete, q, expect: 204);
        await SendAsync("get deleted", HttpMethod.Get, q, expect: 404);
        await SendAsync("delete deleted", HttpMethod.Delete, q, expect: 404);
        await SendAsync("thumbnail of nothing", HttpMethod.Get, q + "/thumbnail", expect: 404);
        await SendAsync("events of nothing", HttpMethod.Get, q + "/events", expect: 404);

        // Lists.
        await SendAsync("list", HttpMethod.Get, "/v1/generations?limit=2", expect: 200);
        await SendAsync("list filtered", HttpMethod.Get, "/v1/generations?status=succeeded&limit=100", expect: 200);

        // Webhooks: secret, rotation, a test delivery (nothing listens: success false), the log, a redelivery.
        await SendAsync("secret", HttpMethod.Get, "/v1/webhooks/secret", expect: 200);
        await SendAsync("rotate", HttpMethod.Post, "/v1/webhooks/secret/rotate", expect: 200);
        await SendAsync("webhook test", HttpMethod.Post, "/v1/webhooks/test", Json(new { url = "http://127.0.0.1:9/hooks" }), expect: 200);
        var log = await (await SendAsync("deliveries", HttpMethod.Get, location + "/webhook-deliveries", expect: 200)).Content.ReadFromJsonAsync<JsonElement>();
        var eventId = log.GetProperty("data")[0].GetProperty("id").GetString();
        await SendAsync("redeliver", HttpMethod.Post, $"{location}/webhook-deliveries/{eventId}/redeliver");
        await SendAsync("redeliver unknown", HttpMethod.Post, $"{location}/webhook-deliveries/{Guid.NewGuid()}/redeliver", expect: 404);

        // Keys (admin) and usage: create, list, rotate, revoke; the tenant's usage and the admin's; a tenant key on admin routes.
        var adminKey = (await service.Api.Services.GetRequiredService<ApiKeyStore>().CreateAsync("prism-admin", true, default)).Key;
        Action<HttpRequestHeaders> asAdmin = h => h.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);
        var issued = await (await SendAsync("admin key create", HttpMethod.Post, "/v1/admin/keys",
            Json(new { tenant = "prism-b", admin = false, expires_in_days = 90, name = "ci" }), asAdmin, anonymous: true, expect: 201))
            .Content.ReadFromJsonAsync<JsonElement>();
        await SendAsync("admin key list", HttpMethod.Get, "/v1/admin/keys?tenant=prism-b", headers: asAdmin, anonymous: true, expect: 200);
        await SendAsync("admin key list as tenant", HttpMethod.Get, "/v1/admin/keys", expect: 403);
        await SendAsync("key rotate", HttpMethod.Post, "/v1/keys/rotate",
            headers: h => h.Authorization = new AuthenticationHeaderValue("Bearer", issued.GetProperty("key").GetString()), anonymous: true, expect: 201);
        await SendAsync("admin key revoke", HttpMethod.Delete, $"/v1/admin/keys/{issued.GetProperty("id")}", headers: asAdmin, anonymous: true, expect: 204);
        await SendAsync("usage", HttpMethod.Get, "/v1/usage", expect: 200);
        await SendAsync("usage range", HttpMethod.Get, "/v1/usage?from=2026-01-01&to=2026-02-01T00:00:00Z", expect: 200);
        await SendAsync("admin usage", HttpMethod.Get, "/v1/admin/usage?tenant=prism", headers: asAdmin, anonymous: true, expect: 200);
        await SendAsync("admin usage as tenant", HttpMethod.Get, "/v1/admin/usage", expect: 403);

        // An expired generation's files answer 410.
        await using (var db = NpgsqlDataSource.Create(service.ConnectionString))
        await using (var cmd = db.CreateCommand($"UPDATE generations SET status = 'expired' WHERE id = '{done.GetProperty("id").GetString()}'"))
            await cmd.ExecuteNonQueryAsync();
        await SendAsync("video expired", HttpMethod.Get, location + "/video", expect: 410);

        // Problems: no key, unknown key, a bad Last-Event-ID, a wrong media type.
        await SendAsync("no key", HttpMethod.Get, "/v1/models", anonymous: true, expect: 401, invalidRequest: true);
        await SendAsync("unknown key", HttpMethod.Get, "/v1/generations", headers: h => h.Authorization = new AuthenticationHeaderValue("Bearer", "tora_" + new string('x', 43)), anonymous: true, expect: 401);
        await SendAsync("text body", HttpMethod.Post, "/v1/generations", new StringContent("a fox", Encoding.UTF8, "text/plain"), expect: 415, invalidRequest: true);

        // Requests the API refuses and the request schema refuses too.
        await SendAsync("no prompt", HttpMethod.Post, "/v1/generations", Json(new { model = "tora-tiny" }), expect: 422, invalidRequest: true);
        await SendAsync("one-number point", HttpMethod.Post, "/v1/generations",
            Json(new { prompt = "x", trajectories = new[] { new { points = new[] { new[] { 1.0 } } } } }), expect: 422, invalidRequest: true);
        await SendAsync("unknown space", HttpMethod.Post, "/v1/generations",
            Json(new { prompt = "x", trajectories = new[] { new { points = Coaster, space = "inches" } } }), expect: 422, invalidRequest: true);
        await SendAsync("unknown preview mode", HttpMethod.Post, "/v1/trajectories/preview",
            Json(new { trajectories = new[] { new { points = Coaster } }, mode = "sketch" }), expect: 422, invalidRequest: true);
        await SendAsync("limit zero", HttpMethod.Get, "/v1/generations?limit=0", expect: 400, invalidRequest: true);
        await SendAsync("limit text", HttpMethod.Get, "/v1/generations?limit=ten", expect: 400, invalidRequest: true);
        await SendAsync("unknown status", HttpMethod.Get, "/v1/generations?status=done", expect: 400, invalidRequest: true);
        await SendAsync("long key", HttpMethod.Post, "/v1/generations", Json(new { prompt = "x" }), h => h.Add("Idempotency-Key", new string('k', 256)), expect: 400, invalidRequest: true);
        await SendAsync("bad Last-Event-ID", HttpMethod.Get, location + "/events", headers: h => h.Add("Last-Event-ID", "abc"), expect: 400, invalidRequest: true);
        await SendAsync("webhook test without url", HttpMethod.Post, "/v1/webhooks/test", Json(new { }), expect: 422, invalidRequest: true);

        NoViolationsSoFar();
    }

    private void NoViolationsSoFar() => Assert.True(_violations.Count == 0, string.Join("\n", _violations));
}
