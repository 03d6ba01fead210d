using Tora.Api;

var builder = WebApplication.CreateBuilder(args);
builder.AddToraApi();
var app = builder.Build();
await app.UseToraApiAsync();
app.Run();

/// <summary>The API's entry point (public for WebApplicationFactory).</summary>
public partial class Program;
