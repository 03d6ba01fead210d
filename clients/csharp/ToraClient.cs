using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Kiota.Abstractions;
using Microsoft.Kiota.Abstractions.Authentication;
using Microsoft.Kiota.Abstractions.Serialization;
using Microsoft.Kiota.Http.HttpClientLibrary;
using Tora.Client.Models;

namespace Tora.Client;

/// <summary>
/// The Tora.Server client: <see cref="Api"/> is the Kiota-generated client of every operation in openapi.yaml; this
/// class adds only what Kiota cannot express — a create with a first-frame file (multipart/form-data), the
/// Server-Sent Events of a generation, and trajectory points (arrays of <c>[x, y]</c> pairs).
/// </summary>
public sealed class ToraClient
{
    private readonly HttpClient _http;

    /// <summary>
    /// A client of the service at <paramref name="baseUrl"/> over Kiota's default HTTP pipeline (redirects followed —
    /// video downloads from an S3 store answer 302 —, retries of 429/503 honouring Retry-After, header inspection).
    /// </summary>
    /// <param name="baseUrl">The service's address, e.g. <c>http://127.0.0.1:5080</c>.</param>
    /// <param name="apiKey">A key from <c>tora keys create</c>, sent as <c>Authorization: Bearer</c>.</param>
    /// <param name="transport">The innermost handler (default: a new <see cref="HttpClientHandler"/>).</param>
    public ToraClient(Uri baseUrl, string apiKey, HttpMessageHandler? transport = null)
        : this(KiotaClientFactory.Create(finalHandler: transport), apiKey, baseUrl)
    {
    }

    /// <summary>A client over <paramref name="http"/> as it is (its handlers, its BaseAddress or <paramref name="baseUrl"/>) with an API key.</summary>
    /// <param name="http">The HTTP client (its handlers, timeouts and base address are used as they are).</param>
    /// <param name="apiKey">A key from <c>tora keys create</c>, sent as <c>Authorization: Bearer</c>.</param>
    /// <param name="baseUrl">The service's address, e.g. <c>http://127.0.0.1:5080</c> (default: the client's BaseAddress).</param>
    public ToraClient(HttpClient http, string apiKey, Uri? baseUrl = null)
    {
        _http = http;
        Adapter = new HttpClientRequestAdapter(new BearerKeyAuthenticationProvider(apiKey), httpClient: http)
        {
            BaseUrl = (baseUrl ?? http.BaseAddress ?? throw new ArgumentException("give a base URL or an HttpClient with a BaseAddress", nameof(baseUrl)))
                .ToString().TrimEnd('/'),
        };
        Api = new ToraApiClient(Adapter);
    }

    /// <summary>The generated client: <c>Api.V1.Generations.PostAsync(…)</c>, <c>Api.V1.Generations[id].Video.GetAsync()</c>, ….</summary>
    public ToraApiClient Api { get; }

    /// <summary>The request adapter (authentication, serialization) the generated client uses.</summary>
    public IRequestAdapter Adapter { get; }

    /// <summary>Trajectory points as the API takes them: <c>[[x, y], …]</c> (Kiota has no type for nested arrays).</summary>
    public static UntypedArray Points(params (double X, double Y)[] points) =>
        new(points.Select(p => (UntypedNode)new UntypedArray([new UntypedDouble(p.X), new UntypedDouble(p.Y)])).ToList());

    /// <summary>
    /// Queues an image-to-video generation with its first frame as a file (<c>multipart/form-data</c>: a <c>request</c>
    /// JSON part and an <c>image</c> file part). Problems are thrown as <see cref="Problem"/>, as by the generated methods.
    /// </summary>
    /// <param name="request">The request (without <c>image</c>).</param>
    /// <param name="image">The first frame: PNG, JPEG or WebP.</param>
    /// <param name="fileName">Its file name (the extension is informative only).</param>
    /// <param name="contentType">Its media type, e.g. <c>image/png</c>.</param>
    /// <param name="idempotencyKey">Makes the create safe to retry (sent as the Idempotency-Key header).</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    public async Task<GenerationResource> CreateWithFirstFrameAsync(CreateGenerationRequest request, Stream image, string fileName,
        string contentType, string? idempotencyKey = null, CancellationToken cancellationToken = default)
    {
        var info = Api.V1.Generations.ToPostRequestInformation(request, c =>
        {
            if (idempotencyKey is not null) c.Headers.Add("Idempotency-Key", idempotencyKey);
        });
        using var message = await Adapter.ConvertToNativeRequestAsync<HttpRequestMessage>(info, cancellationToken).ConfigureAwait(false)
                            ?? throw new InvalidOperationException("the request adapter made no request");
        // The request part is the JSON body as the generated model serializes it; the image part is the file.
        var json = new StringContent(await KiotaJsonSerializer.SerializeAsStringAsync(request, serializeOnlyChangedValues: false, cancellationToken: cancellationToken).ConfigureAwait(false), Encoding.UTF8, "application/json");
        var file = new StreamContent(image);
        file.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        // A quoted file name, as browsers send it (some multipart parsers read nothing else).
        file.Headers.ContentDisposition = new System.Net.Http.Headers.ContentDispositionHeaderValue("form-data")
        {
            Name = "\"image\"",
            FileName = "\"" + fileName.Replace("\"", "", StringComparison.Ordinal) + "\"",
        };
        message.Content = new MultipartFormDataContent { { json, "request" }, file };
        using var response = await _http.SendAsync(message, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode) throw await ReadProblemAsync(response, cancellationToken).ConfigureAwait(false);
        return await KiotaJsonSerializer.DeserializeAsync(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false),
                   GenerationResource.CreateFromDiscriminatorValue, cancellationToken).ConfigureAwait(false)
               ?? throw new InvalidOperationException("the service answered without a body");
    }

    /// <summary>
    /// The Server-Sent Events of a generation (<c>status</c>, <c>progress</c>, <c>queue</c>; heartbeats skipped) until
    /// the stream ends, which it does after the terminal status. Resume with the last <see cref="GenerationEvent.Id"/> seen.
    /// </summary>
    /// <param name="id">The generation.</param>
    /// <param name="lastEventId">Resume after this event id (null: from the start).</param>
    /// <param name="cancellationToken">Ends the stream.</param>
    public async IAsyncEnumerable<GenerationEvent> StreamEventsAsync(Guid id, string? lastEventId = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var info = Api.V1.Generations[id.ToString()].Events.ToGetRequestInformation(c =>
        {
            if (lastEventId is not null) c.Headers.Add("Last-Event-ID", lastEventId);
        });
        using var message = await Adapter.ConvertToNativeRequestAsync<HttpRequestMessage>(info, cancellationToken).ConfigureAwait(false)
                            ?? throw new InvalidOperationException("the request adapter made no request");
        using var response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode) throw await ReadProblemAsync(response, cancellationToken).ConfigureAwait(false);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), Encoding.UTF8);
        string? eventId = null, type = null;
        var data = new StringBuilder();
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (line.Length == 0)
            {
                if (type is not null || data.Length > 0) yield return new GenerationEvent(eventId, type ?? "message", data.ToString());
                eventId = null; type = null; data.Clear();
                continue;
            }
            if (line[0] == ':') continue; // a comment (heartbeat)
            var colon = line.IndexOf(':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..].TrimStart(' ');
            switch (field)
            {
                case "id": eventId = value; break;
                case "event": type = value; break;
                case "data": data.Append(data.Length > 0 ? "\n" : "").Append(value); break;
            }
        }
    }

    private static async Task<Exception> ReadProblemAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        var problem = response.Content.Headers.ContentType?.MediaType == "application/problem+json"
            ? await KiotaJsonSerializer.DeserializeAsync(text, Problem.CreateFromDiscriminatorValue, ct).ConfigureAwait(false)
            : null;
        if (problem is null) return new ApiException($"the service answered {(int)response.StatusCode}") { ResponseStatusCode = (int)response.StatusCode };
        problem.ResponseStatusCode = (int)response.StatusCode;
        return problem;
    }
}

/// <summary>
/// Sends the API key as <c>Authorization: Bearer</c>. Kiota's own providers refuse plain http, but a self-hosted
/// service is often reached over loopback or a private network without TLS (run.sh serves http://127.0.0.1).
/// </summary>
public sealed class BearerKeyAuthenticationProvider(string apiKey) : IAuthenticationProvider
{
    /// <inheritdoc />
    public Task AuthenticateRequestAsync(RequestInformation request, Dictionary<string, object>? additionalAuthenticationContext = null,
        CancellationToken cancellationToken = default)
    {
        request.Headers.Remove("Authorization");
        request.Headers.Add("Authorization", "Bearer " + apiKey);
        return Task.CompletedTask;
    }
}

/// <summary>One Server-Sent Event of a generation.</summary>
/// <param name="Id">The event id (resume after it with Last-Event-ID); null for <c>queue</c> events, which are not replayed.</param>
/// <param name="Type"><c>status</c>, <c>progress</c> or <c>queue</c>.</param>
/// <param name="Data">The JSON data (see the operation's description in openapi.yaml).</param>
public sealed record GenerationEvent(string? Id, string Type, string Data);
