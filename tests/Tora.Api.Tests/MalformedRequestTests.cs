using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Tora.TestSupport;

namespace Tora.Api.Tests;

/// <summary>
/// A corpus of bad requests: each must get the right 4xx as application/problem+json with its stable code (and
/// the JSON pointer of the offending field where there is one); none may get a 5xx.
/// </summary>
[Collection(ServiceCollection.Name)]
public sealed class MalformedRequestTests(ServiceFixture service)
{
    /// <summary>Which key a case sends.</summary>
    public enum Auth { Alpha, None, Garbage, WrongScheme, Unknown }

    /// <summary>One bad request and the answer it must get.</summary>
    public sealed record Case(string Name, HttpMethod Method, string Path, string? ContentType, Func<byte[]>? Body,
        int Status, string Code, string? Pointer = null, Auth Auth = Auth.Alpha, Func<HttpContent>? Content = null)
    {
        public override string ToString() => Name;
    }

    private const string Ok = """ "prompt": "a fox", "model": "tora-tiny" """;
    private static Func<byte[]> Json(string s) => () => Encoding.UTF8.GetBytes(s);
    private static Case Post(string name, string json, int status, string code, string? pointer = null) =>
        new(name, HttpMethod.Post, "/v1/generations", "application/json", Json(json), status, code, pointer);
    private static Case Invalid(string name, string fields, string pointer, string fieldCode = "") =>
        Post(name, "{" + Ok + "," + fields + "}", 422, "validation_failed", pointer) with { Name = name + (fieldCode.Length > 0 ? $" ({fieldCode})" : "") };
    private static string Traj(string inner) => $"\"trajectories\": [{inner}]";
    private static string DataUri(byte[] bytes, string type = "image/png") => $"data:{type};base64,{Convert.ToBase64String(bytes)}";

    private static readonly byte[] Png = File.ReadAllBytes(TestData.Path("tora-data/images/fox.png"));

    public static IEnumerable<object[]> Cases() => new Case[]
    {
        // Syntax and shape of the body.
        Post("empty body", "", 400, "invalid_json"),
        Post("not json", "prompt=a fox", 400, "invalid_json"),
        Post("truncated json", "{\"prompt\": \"a fox\"", 400, "invalid_json"),
        Post("json null", "null", 400, "invalid_json"),
        Post("json array", "[1, 2]", 400, "invalid_json"),
        Post("json string", "\"a fox\"", 400, "invalid_json"),
        Post("trailing comma", "{\"prompt\": \"a fox\",}", 400, "invalid_json"),
        Post("unknown field", "{" + Ok + ", \"promt\": \"typo\"}", 400, "unknown_field", "/promt"),
        Post("prompt is a number", "{\"prompt\": 5}", 400, "invalid_type", "/prompt"),
        Post("steps is a string", "{" + Ok + ", \"steps\": \"50\"}", 400, "invalid_type", "/steps"),
        Post("steps is fractional", "{" + Ok + ", \"steps\": 2.5}", 400, "invalid_type", "/steps"),
        Post("steps overflow int", "{" + Ok + ", \"steps\": 99999999999}", 400, "invalid_type", "/steps"),
        Post("seed is a string", "{" + Ok + ", \"seed\": \"42\"}", 400, "invalid_type", "/seed"),
        Post("dynamic_cfg is a string", "{" + Ok + ", \"dynamic_cfg\": \"yes\"}", 400, "invalid_type", "/dynamic_cfg"),
        Post("trajectories is an object", "{" + Ok + ", \"trajectories\": {\"points\": []}}", 400, "invalid_type", "/trajectories"),
        Post("point coordinate is a string", "{" + Ok + ", " + Traj("{\"points\": [[1, 2], [\"x\", 3]]}") + "}", 400, "invalid_type", "/trajectories/0/points/1/0"),
        Post("frames hold a float", "{" + Ok + ", " + Traj("{\"points\": [[0, 0], [1, 1]], \"frames\": [0, 1.5]}") + "}", 400, "invalid_type", "/trajectories/0/frames/1"),
        Post("metadata is an array", "{" + Ok + ", \"metadata\": [1]}", 400, "invalid_type", "/metadata"),
        Post("nesting too deep", new string('[', 5000) + new string(']', 5000), 400, "invalid_json"),
        Post("metadata nested arrays", "{" + Ok + ", \"metadata\": " + new string('[', 40) + new string(']', 40) + "}", 400, "invalid_type", "/metadata"),
        // Field validation (422 with pointers).
        Invalid("missing prompt", "\"steps\": 4", "/prompt", "required") with { Body = Json("{\"model\": \"tora-tiny\"}") },
        Invalid("blank prompt", "\"negative_prompt\": \"\"", "/prompt") with { Body = Json("{\"prompt\": \"   \"}") },
        Invalid("prompt too long", "\"negative_prompt\": \"\"", "/prompt") with { Body = Json("{\"prompt\": \"" + new string('a', 2001) + "\"}") },
        Invalid("negative prompt too long", $"\"negative_prompt\": \"{new string('n', 2001)}\"", "/negative_prompt"),
        Post("unknown model", "{\"prompt\": \"a fox\", \"model\": \"sora\"}", 422, "validation_failed", "/model"),
        Invalid("num_frames not offered", "\"num_frames\": 50", "/num_frames"),
        Invalid("num_frames zero", "\"num_frames\": 0", "/num_frames"),
        Invalid("width not offered", "\"width\": 4096", "/width"),
        Invalid("height not offered", "\"height\": 97", "/height"),
        Invalid("size swapped halfway", "\"width\": 96, \"height\": 96", "/height"),
        Invalid("steps zero", "\"steps\": 0", "/steps"),
        Invalid("steps over max", "\"steps\": 11", "/steps"),
        Invalid("guidance negative", "\"guidance_scale\": -1", "/guidance_scale"),
        Invalid("guidance huge", "\"guidance_scale\": 1e300", "/guidance_scale"),
        Invalid("seed negative", "\"seed\": -1", "/seed"),
        Invalid("seed beyond 2^53", "\"seed\": 9007199254740993", "/seed"),
        Invalid("fps zero", "\"fps\": 0", "/fps"),
        Invalid("fps 120", "\"fps\": 120", "/fps"),
        Invalid("trajectory null", Traj("null"), "/trajectories/0"),
        Invalid("trajectory without points", Traj("{\"space\": \"normalized\"}"), "/trajectories/0/points"),
        Invalid("trajectory with no points", Traj("{\"points\": []}"), "/trajectories/0/points"),
        Invalid("too many points", Traj("{\"points\": [" + string.Join(",", Enumerable.Repeat("[0.5, 0.5]", 2049)) + "]}"), "/trajectories/0/points"),
        Invalid("point with three numbers", Traj("{\"points\": [[0, 0], [0.1, 0.2, 0.3]]}"), "/trajectories/0/points/1"),
        Invalid("point null", Traj("{\"points\": [[0, 0], null]}"), "/trajectories/0/points/1"),
        Invalid("x outside normalized", Traj("{\"points\": [[0, 0], [1.5, 0.5]]}"), "/trajectories/0/points/1"),
        Invalid("y negative on canvas", Traj("{\"points\": [[0, 0], [10, -3]], \"space\": \"canvas256\"}"), "/trajectories/0/points/1"),
        Invalid("x beyond canvas256", Traj("{\"points\": [[0, 0], [256, 3]], \"space\": \"canvas256\"}"), "/trajectories/0/points/1"),
        Invalid("y beyond pixels height", Traj("{\"points\": [[0, 0], [10, 97]], \"space\": \"pixels\"}"), "/trajectories/0/points/1"),
        Invalid("unknown space", Traj("{\"points\": [[0, 0], [1, 1]], \"space\": \"inches\"}"), "/trajectories/0/space"),
        Invalid("frames length mismatch", Traj("{\"points\": [[0, 0], [1, 1]], \"frames\": [0]}"), "/trajectories/0/frames"),
        Invalid("frames not increasing", Traj("{\"points\": [[0, 0], [1, 1], [0.5, 0.5]], \"frames\": [0, 5, 5]}"), "/trajectories/0/frames/2"),
        Invalid("frame beyond video", Traj("{\"points\": [[0, 0], [1, 1]], \"frames\": [0, 13]}"), "/trajectories/0/frames/1"),
        Invalid("second trajectory bad", Traj("{\"points\": [[0, 0], [1, 1]]}, {\"points\": [[0, 0], [2, 1]]}"), "/trajectories/1/points/1"),
        Invalid("seventeen trajectories", "\"trajectories\": [" + string.Join(",", Enumerable.Repeat("{\"points\": [[0, 0], [1, 1]]}", 17)) + "]", "/trajectories"),
        Invalid("motion strength negative", "\"motion\": {\"strength\": -0.5}", "/motion/strength"),
        Invalid("motion strength over 10", "\"motion\": {\"strength\": 10.5}", "/motion/strength"),
        Invalid("motion start negative", "\"motion\": {\"start\": -0.1}", "/motion/start"),
        Invalid("motion end over 1", "\"motion\": {\"end\": 1.5}", "/motion/end"),
        Invalid("motion window reversed", "\"motion\": {\"start\": 0.6, \"end\": 0.2}", "/motion/end"),
        Invalid("motion start after default end", "\"motion\": {\"start\": 1.2}", "/motion/start"),
        Post("motion unknown field", "{\"prompt\": \"a fox\", \"motion\": {\"strenght\": 1}}", 400, "unknown_field", "/motion/strenght"),
        Post("motion strength a string", "{\"prompt\": \"a fox\", \"motion\": {\"strength\": \"high\"}}", 400, "invalid_type", "/motion/strength"),
        Invalid("metadata too many", "\"metadata\": {" + string.Join(",", Enumerable.Range(0, 17).Select(i => $"\"k{i}\": \"v\"")) + "}", "/metadata"),
        Invalid("metadata value too long", $"\"metadata\": {{\"note\": \"{new string('v', 513)}\"}}", "/metadata/note"),
        Invalid("metadata value null", "\"metadata\": {\"note\": null}", "/metadata/note"),
        Invalid("metadata key with slash", $"\"metadata\": {{\"{new string('k', 65)}/x\": \"v\"}}", $"/metadata/{new string('k', 65)}~1x"),
        // Images.
        Invalid("image not a data uri", "\"image\": \"http://example.com/fox.png\"", "/image"),
        Invalid("image not base64", "\"image\": \"data:image/png,rawbytes\"", "/image"),
        Invalid("image bad base64", "\"image\": \"data:image/png;base64,@@@@\"", "/image"),
        Invalid("image empty", "\"image\": \"data:image/png;base64,\"", "/image"),
        Invalid("image is text", $"\"image\": \"{DataUri(Encoding.UTF8.GetBytes("hello, I am not an image at all"))}\"", "/image"),
        Invalid("image truncated png", $"\"image\": \"{DataUri(Png[..2000])}\"", "/image"),
        Invalid("image tiny", $"\"image\": \"{DataUri(Convert.FromBase64String("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="))}\"", "/image"),
        Post("image on a text-to-video model", $"{{\"prompt\": \"a fox\", \"model\": \"tora-text\", \"image\": \"{DataUri(Png)}\"}}", 422, "validation_failed", "/image"),
        Post("image over 10 MB", $"{{\"prompt\": \"a fox\", \"image\": \"data:image/png;base64,{new string('A', 14_000_000)}\"}}", 413, "payload_too_large"),
        // Body size, media types, multipart.
        new("body over 16 MB", HttpMethod.Post, "/v1/generations", "application/json", () => new byte[17 * 1024 * 1024], 413, "payload_too_large"),
        new("text/plain body", HttpMethod.Post, "/v1/generations", "text/plain", Json("{\"prompt\": \"a fox\"}"), 415, "unsupported_media_type"),
        new("webhook test as text", HttpMethod.Post, "/v1/webhooks/test", "text/plain", Json("url=x"), 415, "unsupported_media_type"),
        new("no content type", HttpMethod.Post, "/v1/generations", null, Json("{\"prompt\": \"a fox\"}"), 415, "unsupported_media_type"),
        new("xml body", HttpMethod.Post, "/v1/generations", "application/xml", Json("<prompt>a fox</prompt>"), 415, "unsupported_media_type"),
        new("multipart without request part", HttpMethod.Post, "/v1/generations", null, null, 400, "missing_part", "/request",
            Content: () => new MultipartFormDataContent { { new ByteArrayContent(Png), "image", "fox.png" } }),
        new("multipart with unknown part", HttpMethod.Post, "/v1/generations", null, null, 400, "unknown_part", "/extra",
            Content: () => new MultipartFormDataContent { { new StringContent("{\"prompt\":\"a\"}"), "request" }, { new StringContent("x"), "extra" } }),
        new("multipart with bad json", HttpMethod.Post, "/v1/generations", null, null, 400, "invalid_json",
            Content: () => new MultipartFormDataContent { { new StringContent("{prompt"), "request" } }),
        new("multipart with a bad image", HttpMethod.Post, "/v1/generations", null, null, 422, "validation_failed", "/image",
            Content: () => new MultipartFormDataContent { { new StringContent("{\"prompt\":\"a\"}"), "request" }, { new ByteArrayContent(new byte[500]), "image", "x.png" } }),
        new("multipart with image also as data uri", HttpMethod.Post, "/v1/generations", null, null, 422, "validation_failed", "/image",
            Content: () => new MultipartFormDataContent { { new StringContent($"{{\"prompt\":\"a\",\"image\":\"{DataUri(Png)}\"}}"), "request" } }),
        new("multipart with broken framing", HttpMethod.Post, "/v1/generations", "multipart/form-data; boundary=XYZ", Json("--XYZ\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n{}"), 400, "invalid_multipart"),
        // Trajectory preview.
        new("preview without trajectories", HttpMethod.Post, "/v1/trajectories/preview", "application/json", Json("{}"), 422, "validation_failed", "/trajectories"),
        new("preview point outside", HttpMethod.Post, "/v1/trajectories/preview", "application/json", Json("{" + Traj("{\"points\": [[0, 0], [2, 0]]}") + "}"), 422, "validation_failed", "/trajectories/0/points/1"),
        new("preview unknown mode", HttpMethod.Post, "/v1/trajectories/preview", "application/json", Json("{" + Traj("{\"points\": [[0, 0]]}") + ", \"mode\": \"3d\"}"), 422, "validation_failed", "/mode"),
        new("preview image in flow mode", HttpMethod.Post, "/v1/trajectories/preview", "application/json", Json("{" + Traj("{\"points\": [[0, 0]]}") + $", \"image\": \"{DataUri(Png)}\"}}"), 422, "validation_failed", "/image"),
        new("preview unknown field", HttpMethod.Post, "/v1/trajectories/preview", "application/json", Json("{\"trajectorys\": []}"), 400, "unknown_field", "/trajectorys"),
        new("preview as form", HttpMethod.Post, "/v1/trajectories/preview", "application/x-www-form-urlencoded", Json("a=b"), 415, "unsupported_media_type"),
        new("preview multipart with unknown part", HttpMethod.Post, "/v1/trajectories/preview", null, null, 400, "unknown_part", "/image",
            Content: () => new MultipartFormDataContent { { new StringContent("{}"), "request" }, { new ByteArrayContent(Png), "image", "fox.png" } }),
        new("preview multipart without flow_video", HttpMethod.Post, "/v1/trajectories/preview", null, null, 422, "validation_failed", "/flow_video",
            Content: () => new MultipartFormDataContent { { new StringContent("{}"), "request" } }),
        new("preview multipart with broken framing", HttpMethod.Post, "/v1/trajectories/preview", "multipart/form-data; boundary=XYZ", Json("--XYZ\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n{}"), 400, "invalid_multipart"),
        new("presets without key", HttpMethod.Get, "/v1/trajectories/presets", null, null, 401, "unauthorized", Auth: Auth.None),
        // Authentication.
        new("no key", HttpMethod.Post, "/v1/generations", "application/json", Json("{" + Ok + "}"), 401, "unauthorized", Auth: Auth.None),
        new("garbage key", HttpMethod.Get, "/v1/generations", null, null, 401, "unauthorized", Auth: Auth.Garbage),
        new("basic scheme", HttpMethod.Get, "/v1/generations", null, null, 401, "unauthorized", Auth: Auth.WrongScheme),
        new("unknown tora key", HttpMethod.Get, "/v1/models", null, null, 401, "unauthorized", Auth: Auth.Unknown),
        new("no key for a video", HttpMethod.Get, $"/v1/generations/{Guid.NewGuid()}/video", null, null, 401, "unauthorized", Auth: Auth.None),
        // Routes, ids and query strings.
        new("unknown id", HttpMethod.Get, $"/v1/generations/{Guid.NewGuid()}", null, null, 404, "not_found"),
        new("id not a uuid", HttpMethod.Get, "/v1/generations/not-a-uuid", null, null, 404, "not_found"),
        new("video of unknown id", HttpMethod.Get, $"/v1/generations/{Guid.NewGuid()}/video", null, null, 404, "not_found"),
        new("thumbnail of bad id", HttpMethod.Get, "/v1/generations/..%2F..%2Fetc/thumbnail", null, null, 404, "not_found"),
        new("delete unknown id", HttpMethod.Delete, $"/v1/generations/{Guid.NewGuid()}", null, null, 404, "not_found"),
        new("unknown route", HttpMethod.Get, "/v1/videos", null, null, 404, "not_found"),
        new("wrong method", HttpMethod.Put, "/v1/generations", "application/json", Json("{}"), 405, "method_not_allowed"),
        new("bad status filter", HttpMethod.Get, "/v1/generations?status=done", null, null, 400, "invalid_query", "parameter status"),
        new("limit zero", HttpMethod.Get, "/v1/generations?limit=0", null, null, 400, "invalid_query", "parameter limit"),
        new("limit too big", HttpMethod.Get, "/v1/generations?limit=101", null, null, 400, "invalid_query", "parameter limit"),
        new("limit not a number", HttpMethod.Get, "/v1/generations?limit=ten", null, null, 400, "invalid_query", "parameter limit"),
        new("bad cursor", HttpMethod.Get, "/v1/generations?after=xyz", null, null, 400, "invalid_query", "parameter after"),
    }.Select(c => new object[] { c });

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bad_request_gets_its_4xx_problem(Case c)
    {
        using var client = service.Client(c.Auth switch
        {
            Auth.Alpha => service.AlphaKey,
            _ => null,
        });
        var request = new HttpRequestMessage(c.Method, c.Path);
        if (c.Auth == Auth.Garbage) request.Headers.TryAddWithoutValidation("Authorization", "Bearer !!!");
        if (c.Auth == Auth.WrongScheme) request.Headers.TryAddWithoutValidation("Authorization", "Basic dXNlcjpwYXNz");
        if (c.Auth == Auth.Unknown) request.Headers.TryAddWithoutValidation("Authorization", "Bearer tora_" + new string('x', 43));
        if (c.Content is not null) request.Content = c.Content();
        else if (c.Body is not null)
        {
            request.Content = new ByteArrayContent(c.Body());
            request.Content.Headers.ContentType = c.ContentType is null ? null : MediaTypeHeaderValue.Parse(c.ContentType);
        }
        var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == c.Status, $"{c.Name}: expected {c.Status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal(c.Code, problem.GetProperty("code").GetString());
        Assert.Equal(c.Status, problem.GetProperty("status").GetInt32());
        // Every problem says why and carries the W3C trace id of its request (32 hex digits), framework ones (405, 415) too.
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()), $"{c.Name}: no detail: {text}");
        Assert.Matches("^[0-9a-f]{32}$", problem.GetProperty("trace_id").GetString());
        if (c.Pointer is not null)
        {
            // A body field is named by its JSON pointer, a query parameter in its own member.
            var pointers = problem.GetProperty("errors").EnumerateArray()
                .Select(e => e.TryGetProperty("pointer", out var p) ? p.GetString() : "parameter " + e.GetProperty("parameter").GetString()).ToList();
            Assert.Contains(c.Pointer, pointers);
        }
    }

    [Fact]
    public void The_corpus_has_at_least_fifty_cases() => Assert.True(Cases().Count() >= 50, $"{Cases().Count()} cases");
}
