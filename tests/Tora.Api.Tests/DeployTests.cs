using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Tora.TestSupport;

namespace Tora.Api.Tests;

/// <summary>
/// deploy/: two images (the API without CUDA, the worker on CUDA), each with a HEALTHCHECK that probes its own
/// process, and a compose file that builds both. No Docker engine here: the compose file goes through
/// <c>docker-compose config</c>, the Dockerfiles through structural checks, and each health check's URL is asked
/// of the real process it belongs to.
/// </summary>
[Collection(ServiceCollection.Name)]
public sealed partial class DeployTests(ServiceFixture service)
{
    private static string Deploy(string file) => Path.Combine(TestData.RepositoryRoot, "deploy", file);

    [Fact]
    public async Task Docker_compose_file_is_valid_builds_both_images_and_reserves_a_gpu_for_the_worker()
    {
        var psi = new ProcessStartInfo("docker-compose", ["-f", Deploy("docker-compose.yml"), "config"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("docker-compose did not start (./test.sh installs it)");
        var output = await p.StandardOutput.ReadToEndAsync();
        var error = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, error);
        Assert.Contains("driver: nvidia", output);
        Assert.Contains("Tora.Worker.dll", output);
        Assert.Contains("Tora.Api.dll", output);
        Assert.Contains("postgres:15", output);
        Assert.Contains("dockerfile: deploy/Dockerfile.api", output);
        Assert.Contains("dockerfile: deploy/Dockerfile.worker", output);
        Assert.Matches(@"Tora__Worker__MetricsPort: ['""]?9464", output);
    }

    [Fact]
    public void Api_dockerfile_builds_in_stages_on_the_plain_aspnet_runtime_without_cuda_and_runs_as_a_non_root_user()
    {
        var text = File.ReadAllText(Deploy("Dockerfile.api"));
        var from = FromLines(text);
        Assert.Equal(2, from.Length);
        Assert.Contains("dotnet/sdk:10.0", from[0]);
        Assert.Contains("mcr.microsoft.com/dotnet/aspnet:10.0", from[1]);
        var instructions = string.Join('\n', text.Split('\n').Where(l => !l.StartsWith('#')));
        Assert.DoesNotContain("cuda", instructions, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("nvidia", instructions, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("src/Tora.Api/Tora.Api.csproj", text);
        Assert.DoesNotContain("Tora.Worker", text);
        Assert.DoesNotContain("Tora.Cli", text);
        Assert.Matches(@"\nUSER (?!root)\w+", text);
    }

    [Fact]
    public void Worker_dockerfile_builds_in_stages_on_cuda_13_with_cudnn_9_and_runs_as_a_non_root_user()
    {
        var text = File.ReadAllText(Deploy("Dockerfile.worker"));
        var from = FromLines(text);
        Assert.Equal(2, from.Length);
        Assert.Contains("dotnet/sdk:10.0", from[0]);
        Assert.Matches(@"nvidia/cuda:13\.\d+\.\d+-cudnn-runtime", from[1]);
        Assert.Contains("--runtime aspnetcore", text);
        Assert.Contains("src/Tora.Worker/Tora.Worker.csproj", text);
        Assert.DoesNotContain("Tora.Api", text);
        Assert.Matches(@"\nUSER (?!root)\w+", text);
    }

    [Fact]
    public async Task The_api_image_health_check_probes_a_path_the_api_serves_on_the_port_it_listens_on()
    {
        var text = File.ReadAllText(Deploy("Dockerfile.api"));
        var probe = HealthCheckUrl(text);
        Assert.Equal(Port(EnvValue(text, "ASPNETCORE_URLS")), probe.Port);
        using var anonymous = service.Client(null);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync(probe.PathAndQuery)).StatusCode);
    }

    [Fact]
    public void The_worker_image_health_check_probes_the_worker_status_port()
    {
        // The path itself is asked of a real worker process in WorkerProcessTests.
        var text = File.ReadAllText(Deploy("Dockerfile.worker"));
        var probe = HealthCheckUrl(text);
        Assert.Equal(int.Parse(EnvValue(text, "Tora__Worker__MetricsPort")), probe.Port);
        Assert.Equal(WorkerProcessTests.WorkerHealthPath, probe.PathAndQuery);
        Assert.DoesNotContain("ASPNETCORE_URLS", text);
    }

    [Theory]
    [InlineData("Tora.Api")]
    [InlineData("Tora.Core")]
    [InlineData("Tora.Motion")]
    public void Projects_the_api_image_carries_resolve_no_onnx_runtime_package(string project)
    {
        Assert.DoesNotContain(ResolvedPackages(project), p => p.StartsWith("Microsoft.ML.OnnxRuntime", StringComparison.OrdinalIgnoreCase));
        // The check can fail: the worker does resolve it.
        Assert.Contains(ResolvedPackages("Tora.Worker"), p => p.StartsWith("Microsoft.ML.OnnxRuntime", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Every package NuGet restore resolved for a project, transitive ones included (its obj/project.assets.json).</summary>
    private static IReadOnlyList<string> ResolvedPackages(string project)
    {
        var assets = Path.Combine(TestData.RepositoryRoot, "src", project, "obj", "project.assets.json");
        using var json = JsonDocument.Parse(File.ReadAllText(assets));
        return json.RootElement.GetProperty("libraries").EnumerateObject()
            .Where(l => l.Value.GetProperty("type").GetString() == "package")
            .Select(l => l.Name.Split('/')[0]).ToList();
    }

    private static string[] FromLines(string dockerfile) =>
        dockerfile.Split('\n').Where(l => l.StartsWith("FROM ", StringComparison.Ordinal)).ToArray();

    private static Uri HealthCheckUrl(string dockerfile)
    {
        var line = dockerfile.Split('\n').Single(l => l.StartsWith("HEALTHCHECK ", StringComparison.Ordinal));
        return new Uri(UrlPattern().Match(line) is { Success: true } m ? m.Value : throw new InvalidOperationException($"no URL in {line}"));
    }

    private static string EnvValue(string dockerfile, string name) =>
        Regex.Match(dockerfile, $@"\b{Regex.Escape(name)}=(\S+)") is { Success: true } m ? m.Groups[1].Value : throw new InvalidOperationException($"{name} is not set");

    private static int Port(string url) => new Uri(url.Replace("0.0.0.0", "localhost")).Port;

    [GeneratedRegex(@"http://127\.0\.0\.1:\d+/\S*")]
    private static partial Regex UrlPattern();
}
