using Tora.Api.Tests;

namespace Tora.Client.Tests;

/// <summary>The client tests share one running service (the API tests' <see cref="ServiceFixture"/>).</summary>
[CollectionDefinition(Name)]
public sealed class ClientServiceCollection : ICollectionFixture<ServiceFixture>
{
    /// <summary>The collection name.</summary>
    public const string Name = "client-service";
}
