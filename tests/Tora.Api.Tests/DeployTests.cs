using System.Diagnostics;
using Tora.TestSupport;

namespace Tora.Api.Tests;

public sealed class DeployTests
{
    [Fact]
    public async Task Docker_compose_file_is_valid_and_reserves_a_gpu_for_the_worker()
    {
        var file = Path.Combine(TestData.RepositoryRoot, "deploy", "docker-compose.yml");
        var psi = new ProcessStartInfo("docker-compose", ["-f", file, "config"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("docker-compose did not start (./test.sh installs it)");
        var output = await p.StandardOutput.ReadToEndAsync();
        var error = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, error);
        Assert.Contains("driver: nvidia", output);
        Assert.Contains("Tora.Worker.dll", output);
        Assert.Contains("Tora.Api.dll", output);
        Assert.Contains("postgres:15", output);
    }

    [Fact]
    public void Gpu_dockerfile_builds_in_stages_on_cuda_13_with_cudnn_9_and_runs_as_a_non_root_user()
    {
        var lines = File.ReadAllLines(Path.Combine(TestData.RepositoryRoot, "deploy", "Dockerfile.gpu"));
        var from = lines.Where(l => l.StartsWith("FROM ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, from.Length);
        Assert.Contains("dotnet/sdk:10.0", from[0]);
        Assert.Matches(@"nvidia/cuda:13\.\d+\.\d+-cudnn-runtime", from[1]);
        Assert.Contains(lines, l => l.Contains("--runtime aspnetcore"));
        Assert.Matches(@"^USER (?!root)\w+", lines.Last(l => l.StartsWith("USER ", StringComparison.Ordinal)));
    }
}
