using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Tora.Api.Problems;

/// <summary>
/// One invalid input: in the body, a JSON pointer into the request (RFC 6901); in the query string, the parameter's
/// name (<see cref="Parameter"/>, as RFC 9457 suggests, since a pointer addresses a JSON document); a stable code and a message.
/// </summary>
/// <param name="Pointer">Where in the body, e.g. <c>/trajectories/0/points/3/1</c>; absent for a query parameter.</param>
/// <param name="Code">Stable snake_case code.</param>
/// <param name="Detail">What is wrong, for a human.</param>
public sealed record FieldError(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Pointer,
    string Code,
    string Detail)
{
    /// <summary>The query parameter at fault (absent for a body field).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Parameter { get; init; }

    /// <summary>An invalid query parameter.</summary>
    public static FieldError ForParameter(string name, string code, string detail) => new(null, code, detail) { Parameter = name };
}

/// <summary>
/// RFC 9457 problem details with a stable <c>code</c> extension (docs/architecture.md §5). The <c>type</c> URI names the
/// code, so clients can switch on either.
/// </summary>
public static class ApiProblem
{
    /// <summary>Builds a problem result.</summary>
    public static ProblemHttpResult Create(int status, string code, string title, string? detail = null,
        IReadOnlyList<FieldError>? errors = null)
    {
        var problem = new ProblemDetails
        {
            Status = status,
            Type = TypeFor(code),
            Title = title,
            Detail = detail,
        };
        problem.Extensions["code"] = code;
        if (errors is { Count: > 0 }) problem.Extensions["errors"] = errors;
        return TypedResults.Problem(problem);
    }

    /// <summary>The <c>type</c> URI of a code.</summary>
    public static string TypeFor(string code) => $"https://tora.dev/problems/{code.Replace('_', '-')}";

    /// <summary>422: the request is well-formed JSON but some fields are invalid.</summary>
    public static ProblemHttpResult Validation(IReadOnlyList<FieldError> errors) =>
        Create(StatusCodes.Status422UnprocessableEntity, "validation_failed", "The request has invalid fields.",
            errors.Count == 1 ? errors[0].Detail : $"{errors.Count} fields are invalid; see errors.", errors);

    /// <summary>400: the body is not what the endpoint reads.</summary>
    public static ProblemHttpResult BadRequest(string code, string detail, string? pointer = null) =>
        Create(StatusCodes.Status400BadRequest, code, "The request could not be read.", detail,
            pointer is null ? null : [new FieldError(pointer, code, detail)]);

    /// <summary>404: no such resource for this tenant (also when it belongs to another tenant).</summary>
    public static ProblemHttpResult NotFound(string what) =>
        Create(StatusCodes.Status404NotFound, "not_found", "Not found.", $"{what} does not exist.");
}
