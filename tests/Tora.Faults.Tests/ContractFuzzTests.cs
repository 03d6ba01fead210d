using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace Tora.Faults.Tests;

/// <summary>
/// A seeded, deterministic fuzzer over every operation of <c>openapi.yaml</c> against the real API process:
/// wrong types, boundary numbers, unicode, huge strings, missing and extra fields, broken JSON, wrong content
/// types, hostile path and query values, missing or garbage keys. Not one answer may be a 5xx (issue 11).
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class ContractFuzzTests(FaultFixture service, ITestOutputHelper output)
{
    private const int Requests = 2_400;
    private const int Passes = 3;
    private const int Seed = 11;

    private static readonly string[] HostileStrings =
    [
        "", " ", "null", "0", "-1", "1e309", "NaN", "../../etc/passwd", "%00", "\u0000", "\uFFFF", "\uD83E\uDD8A🦊",
        "' OR 1=1 --", "<script>alert(1)</script>", "{{7*7}}", "${jndi:ldap://127.0.0.1/x}", "tora_", "ｔｏｒａ",
        "\u202Egnp.exe", "a\r\nX-Injected: 1", new string('x', 70_000), string.Concat(Enumerable.Repeat("é", 5_000)),
    ];

    private static readonly JsonNode?[] HostileValues =
    [
        null, true, false, 0, -1, 1, int.MaxValue, int.MinValue, long.MaxValue, -9.2e18, 1e308, -1e-308, 0.5,
        new JsonArray(), new JsonObject(), new JsonArray(1, 2, 3), new JsonArray(new JsonArray(new JsonArray())),
        new JsonObject { ["points"] = new JsonArray(new JsonArray(-1e9, 1e9)) },
    ];

    [Fact]
    public async Task Thousands_of_malformed_requests_over_every_operation_get_no_5xx()
    {
        var operations = OpenApiOperations.All;
        var random = new Random(Seed);
        // Generated up front from one seeded generator, so the same requests are sent in every run whatever the concurrency.
        var plans = Enumerable.Range(0, Requests).Select(i => Plan(operations[i % operations.Count], random)).ToList();
        using var alpha = service.Client(service.AlphaKey);
        using var anonymous = service.Client(null);
        var cold = RssMb();

        var failures = new ConcurrentQueue<string>();
        var statuses = new ConcurrentDictionary<int, int>();
        Task RunAsync(IEnumerable<FuzzPlan> batch) => Parallel.ForEachAsync(batch, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (plan, ct) =>
        {
            using var request = plan.Build();
            var client = plan.Authenticated ? alpha : anonymous;
            try
            {
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                cts.CancelAfter(TimeSpan.FromSeconds(30));
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
                statuses.AddOrUpdate((int)response.StatusCode, 1, (_, n) => n + 1);
                // GET /health/ready documents 503 as "not ready" (no worker heartbeat in 30 s): a readiness answer, not an error.
                var readiness = plan.Method == HttpMethod.Get && plan.Path.StartsWith("/health/ready", StringComparison.Ordinal)
                    && response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable;
                if ((int)response.StatusCode >= 500 && !readiness)
                    failures.Enqueue($"{(int)response.StatusCode} for {plan}: {Truncate(await response.Content.ReadAsStringAsync(cts.Token))}");
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
            {
                failures.Enqueue($"{e.GetType().Name} for {plan}: {e.Message}");
            }
        });

        // Memory (issue 11: "process memory back to its baseline afterwards"). The first pass over the requests is
        // also the warm-up (JIT, pools, caches, the GC settling its heap sizes: the API's resident memory grows by
        // 20-40 MB over it); its settled resident memory is the baseline. Two more passes of the same requests follow.
        // A leak grows with the requests sent; the GC keeping freed memory (the 70,000-character strings land on the
        // large object heap, collected only with generation 2) does not: resident memory plateaus (172-184 MB over
        // 14,000 requests in a trial run) while the managed heap (/metrics dotnet_total_memory_bytes) stays at 15-30 MB.
        // Measured on the loaded 2-core dev machine: baseline 159-170 MB, then 168-183 and 175-180 MB (at most
        // baseline + 18 MB). The bound, baseline + max(15 %, 32 MB) after 4,800 more requests, fails a leak of
        // about 7 KB per request or more.
        await RunAsync(plans);
        var baseline = await SettledRssMb();
        await RunAsync(plans);
        var afterN = await SettledRssMb();
        await RunAsync(plans);
        var after2N = await SettledRssMb();
        var heap = await ManagedHeapMb(anonymous);

        var bound = Math.Max(baseline * 0.15, 32);
        var memory = $"API VmRSS {cold:F0} MB cold, {baseline:F0} MB after the first pass (baseline), {afterN:F0} MB after the second, " +
            $"{after2N:F0} MB after the third (bound: baseline + {bound:F0} MB); managed heap {heap:F0} MB";
        output.WriteLine($"{Requests} requests x {Passes} passes over {operations.Count} operations, seed {Seed}: " +
            string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}×{s.Value}")) + "; " + memory);
        Assert.True(failures.IsEmpty, $"{failures.Count} failures:\n{string.Join("\n", failures.Take(10))}\n{service.Api.Log}");
        Assert.Equal(Passes * Requests, statuses.Values.Sum());
        Assert.False(service.Api.Process.HasExited);
        Assert.True(after2N <= baseline + bound, $"memory not back to its baseline: {memory}");
        new FaultFigures("Schema-driven fuzzer: malformed and hostile requests over every operation of openapi.yaml (3 passes)", Passes * Requests,
            statuses.Where(s => s.Key is >= 200 and < 300).Sum(s => s.Value), Passes * Requests, 0, 0, failures.Count,
            $"statuses {string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}x{s.Value}"))}; {memory}").Report(output);
    }

    private double RssMb() => Security.ProcessMemory.RssMb(service.Api.Process.Id);

    /// <summary>Resident memory once the API has been idle a moment (background GC, pools trimming).</summary>
    private async Task<double> SettledRssMb()
    {
        await Task.Delay(TimeSpan.FromSeconds(2));
        return RssMb();
    }

    /// <summary>The managed heap in use as /metrics reports it (<c>dotnet_total_memory_bytes</c>), in MB; NaN when absent.</summary>
    private static async Task<double> ManagedHeapMb(HttpClient client)
    {
        var metrics = await client.GetStringAsync("/metrics");
        var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith("dotnet_total_memory_bytes ", StringComparison.Ordinal));
        return line is null ? double.NaN : double.Parse(line.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) / 1048576.0;
    }

    private static string Truncate(string s) => s.Length > 300 ? s[..300] + "…" : s;

    private sealed record FuzzPlan(HttpMethod Method, string Path, string? Body, string ContentType, bool Authenticated, string? Authorization, string? IdempotencyKey)
    {
        public HttpRequestMessage Build()
        {
            var request = new HttpRequestMessage(Method, Path);
            if (Body is not null)
            {
                request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(Body));
                request.Content.Headers.TryAddWithoutValidation("Content-Type", ContentType);
            }
            if (Authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", Authorization);
            if (IdempotencyKey is not null) request.Headers.TryAddWithoutValidation("Idempotency-Key", IdempotencyKey);
            return request;
        }

        public override string ToString() => $"{Method} {Truncate(Path)} [{ContentType}] auth={Authenticated} body={Truncate(Body ?? "")}";
    }

    private static FuzzPlan Plan(OpenApiOperation op, Random random)
    {
        // Path parameters: random ids (never a real generation: no event stream stays open) or hostile text.
        var path = op.Fill(_ => random.Next(3) switch
        {
            0 => RandomGuid(random).ToString(),
            1 => Uri.EscapeDataString(Clip(Pick(random, HostileStrings), 2_000)),
            _ => random.Next().ToString(),
        });
        if (random.Next(3) == 0)
        {
            var name = Pick(random, new[] { "status", "after", "limit", "cursor", "model", Pick(random, HostileStrings) });
            var value = random.Next(2) == 0 ? Pick(random, HostileStrings) : Pick(random, HostileValues)?.ToJsonString() ?? "null";
            path += $"?{Uri.EscapeDataString(Clip(name, 500))}={Uri.EscapeDataString(Clip(value, 4_000))}";
        }

        string? body = null;
        var contentType = "application/json";
        if (op.Method == HttpMethod.Post || op.Method == HttpMethod.Put || op.Method == HttpMethod.Patch)
        {
            body = MutatedBody(op, random);
            contentType = random.Next(10) switch
            {
                0 => "text/plain",
                1 => "multipart/form-data; boundary=x",
                2 => "application/x-www-form-urlencoded",
                3 => "application/json; charset=utf-16",
                _ => "application/json",
            };
        }

        var auth = random.Next(10);
        var authenticated = auth < 8;
        string? authorization = auth switch
        {
            8 => "Bearer tora_" + new string('A', random.Next(0, 100)),
            9 => Pick(random, new[] { "Basic Zm9vOmJhcg==", "Bearer", "bearer  ", "Bearer " + HeaderSafe(Clip(Pick(random, HostileStrings), 100)) }),
            _ => null,
        };
        var idempotency = random.Next(6) == 0 ? HeaderSafe(Clip(Pick(random, HostileStrings), 300)) : null;
        return new FuzzPlan(op.Method, path, body, contentType, authenticated, authorization, idempotency);
    }

    private static string MutatedBody(OpenApiOperation op, Random random)
    {
        if (random.Next(8) == 0)
        {
            // Not JSON at all, or truncated JSON.
            return random.Next(3) switch
            {
                0 => Pick(random, HostileStrings),
                1 => "{\"prompt\": \"a fox\", \"steps\": ",
                _ => new string('{', random.Next(1, 5_000)),
            };
        }
        JsonObject body = op.Path switch
        {
            "/v1/generations" => new JsonObject
            {
                ["model"] = FaultFixture.QueuedModel,
                ["prompt"] = "a fox",
                ["steps"] = 4,
                ["seed"] = 1,
                ["trajectories"] = new JsonArray(new JsonObject { ["points"] = new JsonArray(new JsonArray(10, 10), new JsonArray(200, 200)), ["space"] = "canvas256" }),
            },
            "/v1/trajectories/preview" => new JsonObject
            {
                ["model"] = FaultFixture.QueuedModel,
                ["trajectories"] = new JsonArray(new JsonObject { ["points"] = new JsonArray(new JsonArray(10, 10), new JsonArray(200, 200)) }),
            },
            _ => [],
        };
        var keys = body.Select(p => p.Key).ToList();
        for (var n = random.Next(1, 4); n > 0; n--)
        {
            var kind = random.Next(4);
            if (kind == 0 && keys.Count > 0 && body.Count > 0)
            {
                var key = Pick(random, keys);
                if (key != "model") body.Remove(key); // keep the model: a default would be a served model
            }
            else if (kind == 1 && keys.Count > 0)
            {
                var key = Pick(random, keys);
                if (key != "model") body[key] = Pick(random, HostileValues)?.DeepClone();
            }
            else if (kind == 2 && keys.Count > 0)
            {
                var key = Pick(random, keys);
                if (key != "model") body[key] = Pick(random, HostileStrings);
            }
            else
            {
                // An unknown field, never a URL: the fuzzer must not make the service call out.
                body["x_" + random.Next(1000)] = Pick(random, HostileValues)?.DeepClone();
            }
        }
        return body.ToJsonString();
    }

    /// <summary>HttpClient itself refuses non-ASCII and control characters in headers: replace them (the server never sees them).</summary>
    private static string HeaderSafe(string s) => string.Create(s.Length, s, (span, text) =>
    {
        for (var i = 0; i < text.Length; i++) span[i] = text[i] is >= ' ' and <= '~' ? text[i] : '?';
    });

    private static string Clip(string s, int max) => s.Length > max ? s[..max] : s;

    private static Guid RandomGuid(Random random)
    {
        Span<byte> bytes = stackalloc byte[16];
        random.NextBytes(bytes);
        return new Guid(bytes);
    }

    private static T Pick<T>(Random random, IReadOnlyList<T> items) => items[random.Next(items.Count)];
}
