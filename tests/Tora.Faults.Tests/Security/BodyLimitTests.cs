using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;

namespace Tora.Faults.Tests.Security;

/// <summary>
/// Oversized bodies against the real API process (Kestrel as deployed): a 64 MB body with its length declared,
/// the same streamed chunked with no length, a first frame over 10 MB (data URI and multipart), an oversized prompt
/// and an oversized body on a framework-bound endpoint. Each is refused fast with 413 (or the documented 422)
/// <c>application/problem+json</c>, and the API's resident memory stays bounded by the 16 MB body cap, not by
/// what was sent (issue 11).
/// </summary>
[Collection(SecurityCollection.Name)]
public sealed class BodyLimitTests(SecurityFixture service, ITestOutputHelper output)
{
    private const long Huge = 64L * 1024 * 1024;
    private const int Rounds = 3;

    [Fact]
    public async Task Oversized_bodies_are_refused_fast_with_problem_json_and_bounded_memory()
    {
        var port = service.Api.BaseAddress.Port;
        var auth = $"Authorization: Bearer {service.AlphaKey}";
        string Post(string path, string type) => $"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}\r\nContent-Type: {type}";

        // A JSON body that is valid up to where it is cut off: {"model":..., "prompt":"xxxx…
        var jsonPrefix = Encoding.ASCII.GetBytes($"{{\"model\":\"{ServiceCluster.QueuedModel}\",\"prompt\":\"");
        void JsonFill(Memory<byte> chunk, long offset)
        {
            chunk.Span.Fill((byte)'x');
            if (offset == 0) jsonPrefix.CopyTo(chunk.Span);
        }
        var cases = new List<(string Name, Func<Task<RawAnswer>> Send, int Expected, string Code)>
        {
            ("64 MB JSON, Content-Length declared", () => RawHttp.SendAsync(port, Post("/v1/generations", "application/json"), Huge, false, JsonFill),
                413, "payload_too_large"),
            ("64 MB JSON, chunked without length", () => RawHttp.SendAsync(port, Post("/v1/generations", "application/json"), Huge, true, JsonFill),
                413, "payload_too_large"),
            ("64 MB multipart, chunked without length", () => RawHttp.SendAsync(port, Post("/v1/generations", "multipart/form-data; boundary=b"), Huge, true,
                MultipartFill()), 413, "payload_too_large"),
            ("64 MB to POST /v1/webhooks/test, Content-Length declared", () => RawHttp.SendAsync(port, Post("/v1/webhooks/test", "application/json"), Huge, false,
                (c, o) => { c.Span.Fill((byte)' '); if (o == 0) "{\"url\":\""u8.CopyTo(c.Span); }), 413, "payload_too_large"),
        };

        var rssBefore = ApiRssMb();
        var rounds = new List<double>();
        var statuses = new Dictionary<int, int>();
        var slowest = TimeSpan.Zero;
        var sent = 0;
        for (var round = 0; round < Rounds; round++)
        {
            foreach (var (name, send, expected, code) in cases)
            {
                sent++;
                var answer = await send();
                statuses[answer.Status] = statuses.GetValueOrDefault(answer.Status) + 1;
                Assert.True(answer.Status == expected, $"{name}: {answer.Status} {answer.Body}");
                Assert.StartsWith("application/problem+json", answer.Headers["content-type"]);
                Assert.Equal(code, JsonDocument.Parse(answer.Body).RootElement.GetProperty("code").GetString());
                Assert.True(answer.Elapsed < TimeSpan.FromSeconds(15), $"{name}: took {answer.Elapsed}");
                if (answer.Elapsed > slowest) slowest = answer.Elapsed;
                if (round == 0) output.WriteLine($"{name}: {answer.Status} in {answer.Elapsed.TotalMilliseconds:F0} ms after {answer.BodyBytesSent / 1048576.0:F1} MB sent");
            }
            rounds.Add(ApiRssMb());
        }

        // Oversized first frames and prompts, through HttpClient (bodies under the 16 MB cap, so read and checked).
        using var client = service.Api.Client(service.AlphaKey);
        var bigImage = new byte[12 * 1024 * 1024];
        var uploads = new List<(string Name, Func<Task<HttpResponseMessage>> Send, int Expected, string Code)>
        {
            ("12 MB first frame as a data URI", () => client.PostAsJsonAsync("/v1/generations", new
                {
                    model = ServiceCluster.QueuedModel, prompt = "a fox",
                    image = "data:image/png;base64," + Convert.ToBase64String(bigImage, 0, 11 * 1024 * 1024),
                }), 413, "payload_too_large"),
            ("12 MB first frame as a multipart part", () =>
                {
                    var form = new MultipartFormDataContent("b");
                    form.Add(new StringContent($"{{\"model\":\"{ServiceCluster.QueuedModel}\",\"prompt\":\"a fox\"}}"), "request");
                    form.Add(new ByteArrayContent(bigImage), "image", "frame.png");
                    return client.PostAsync("/v1/generations", form);
                }, 413, "payload_too_large"),
            ("1 MB prompt", () => client.PostAsJsonAsync("/v1/generations", new { model = ServiceCluster.QueuedModel, prompt = new string('x', 1 << 20) }),
                422, "validation_failed"),
        };
        foreach (var (name, send, expected, code) in uploads)
        {
            sent++;
            var clock = Stopwatch.StartNew();
            using var response = await send();
            var text = await response.Content.ReadAsStringAsync();
            statuses[(int)response.StatusCode] = statuses.GetValueOrDefault((int)response.StatusCode) + 1;
            Assert.True((int)response.StatusCode == expected, $"{name}: {(int)response.StatusCode} {text}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(code, JsonDocument.Parse(text).RootElement.GetProperty("code").GetString());
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"{name}: took {clock.Elapsed}");
            output.WriteLine($"{name}: {(int)response.StatusCode} in {clock.ElapsedMilliseconds} ms");
        }
        var rssAfter = ApiRssMb();

        // Still serving, and nothing was stored.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
        var totalSent = Rounds * cases.Count * Huge / 1048576.0;
        output.WriteLine($"API VmRSS: {rssBefore:F0} MB before; after each round of {cases.Count} x 64 MB: " +
            string.Join(", ", rounds.Select(r => $"{r:F0}")) + $" MB; after the uploads {rssAfter:F0} MB ({totalSent:F0} MB offered in all)");
        // Bounded by the 16 MB cap (a chunked body is read up to it, in reused 1 MB blocks), not by what was sent:
        // the first round (4 x 64 MB offered) grows the API by under three caps (measured: about 24 MB), and the
        // later rounds, as much again each, by under one cap more in all (measured: 1-2 MB).
        Assert.True(rounds[0] - rssBefore < 48, $"first round grew the API by {rounds[0] - rssBefore:F0} MB");
        Assert.True(rounds[^1] - rounds[0] < 16, $"later rounds grew the API by {rounds[^1] - rounds[0]:F0} MB more");
        var serverErrors = statuses.Where(s => s.Key >= 500).Sum(s => s.Value);
        Assert.Equal(0, serverErrors);
        new FaultFigures("Oversized bodies: 64 MB declared and chunked (JSON, multipart, webhook test), 12 MB first frames, 1 MB prompt",
            sent, 0, sent, 0, 0, serverErrors,
            $"all 413 payload_too_large (prompt: 422) problem+json, slowest {slowest.TotalMilliseconds:F0} ms; API VmRSS {rssBefore:F0} -> " +
            $"{string.Join(" -> ", rounds.Select(r => r.ToString("F0")))} -> {rssAfter:F0} MB for {totalSent:F0} MB offered").Report(output);
    }

    /// <summary>A multipart body whose <c>image</c> part never ends.</summary>
    private static Action<Memory<byte>, long> MultipartFill()
    {
        var head = Encoding.ASCII.GetBytes("--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"f.png\"\r\nContent-Type: image/png\r\n\r\n");
        return (chunk, offset) =>
        {
            chunk.Span.Fill(0x42);
            if (offset == 0) head.CopyTo(chunk.Span);
        };
    }

    private double ApiRssMb() => ProcessMemory.RssMb(service.Api.Process.Process.Id);
}

/// <summary>Reads a process's resident memory.</summary>
public static class ProcessMemory
{
    /// <summary><c>VmRSS</c> of <c>/proc/&lt;pid&gt;/status</c>, in MB.</summary>
    public static double RssMb(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
        throw new InvalidOperationException($"no VmRSS for process {pid}");
    }
}
