namespace Tora.Api.OpenApi;

/// <summary>
/// How an endpoint declares its part of the contract in openapi.yaml: its operation (the id generated clients name
/// their method after, with a one-line summary) and its problem+json answers.
/// </summary>
public static class EndpointContract
{
    /// <summary>
    /// Names the endpoint's operation: <paramref name="operationId"/> is the OpenAPI <c>operationId</c> (and the
    /// route name), <paramref name="summary"/> its one-line summary. (The trajectory endpoints name only their
    /// operation: their summary is their handler's XML documentation.)
    /// </summary>
    public static RouteHandlerBuilder WithOperation(this RouteHandlerBuilder endpoint, string operationId, string summary) =>
        endpoint.WithName(operationId).WithSummary(summary);

    /// <summary>The endpoint answers each of <paramref name="statusCodes"/> with <c>application/problem+json</c>.</summary>
    public static RouteHandlerBuilder ProducesProblems(this RouteHandlerBuilder endpoint, params int[] statusCodes)
    {
        foreach (var status in statusCodes) endpoint.ProducesProblem(status);
        return endpoint;
    }

    /// <summary>Every endpoint of the group answers each of <paramref name="statusCodes"/> with <c>application/problem+json</c>.</summary>
    public static RouteGroupBuilder ProducesProblems(this RouteGroupBuilder group, params int[] statusCodes)
    {
        foreach (var status in statusCodes) group.ProducesProblem(status);
        return group;
    }
}
