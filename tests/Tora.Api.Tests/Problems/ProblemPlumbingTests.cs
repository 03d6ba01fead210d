using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Tora.Api.Problems;
using Tora.Core;
using Tora.Core.Blobs;

namespace Tora.Api.Tests.Problems;

/// <summary>How an unhandled blob store outage is answered (docs/reliability.md).</summary>
public sealed class ProblemPlumbingTests
{
    [Fact]
    public void An_unhandled_outage_becomes_503_storage_unavailable_with_retry_after_never_500()
    {
        using var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection().AddLogging().AddToraProblems().BuildServiceProvider();
        var customize = services.GetRequiredService<IOptions<ProblemDetailsOptions>>().Value.CustomizeProblemDetails!;
        var http = new DefaultHttpContext { Response = { StatusCode = 500 } };
        var context = new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = new ProblemDetails { Status = 500 },
            Exception = new BlobStoreUnavailableException("blob root /srv/blobs: cannot write a/b: disk full"),
        };
        customize(context);
        Assert.Equal(503, http.Response.StatusCode);
        Assert.Equal(503, context.ProblemDetails.Status);
        Assert.Equal("storage_unavailable", context.ProblemDetails.Extensions["code"]);
        Assert.Equal(ProblemPlumbing.StorageRetryAfterSeconds.ToString(), http.Response.Headers.RetryAfter.ToString());
        Assert.DoesNotContain("/srv/blobs", context.ProblemDetails.Detail); // the store's paths stay in the log

        // Anything else unhandled is still the generic 500.
        var other = new ProblemDetailsContext
        {
            HttpContext = new DefaultHttpContext(),
            ProblemDetails = new ProblemDetails { Status = 500 },
            Exception = new InvalidOperationException("bug"),
        };
        customize(other);
        Assert.Equal("internal_error", other.ProblemDetails.Extensions["code"]);
    }
}
