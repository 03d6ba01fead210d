using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Tora.Api.Tests;

/// <summary>The worker as its own operating-system process, as deployed: it takes jobs from its model's queue.</summary>
[Collection(ServiceCollection.Name)]
public sealed class WorkerProcessTests(ServiceFixture service)
{
    [Fact]
    public async Task A_separate_worker_process_takes_the_job_and_reports_its_missing_model_package()
    {
        var psi = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "Tora.Worker.dll")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (var (k, v) in service.Settings()) psi.Environment[k.Replace(":", "__")] = v;
        psi.Environment["Tora__Worker__Model"] = "tora-proc";
        psi.Environment["Tora__Worker__Name"] = "child-process-worker";
        psi.Environment["Tora__Worker__ModelPackage"] = Path.Combine(Path.GetTempPath(), $"no-such-package-{Guid.NewGuid():N}");
        psi.Environment.Remove("TORA_MODEL_PACKAGE");
        using var worker = Process.Start(psi)!;
        var log = new System.Text.StringBuilder();
        worker.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        worker.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        worker.BeginOutputReadLine();
        worker.BeginErrorReadLine();
        try
        {
            using var alpha = service.Client(service.AlphaKey);
            var created = await alpha.PostAsJsonAsync("/v1/generations", new { model = "tora-proc", prompt = "in another process" });
            Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
            var g = await service.WaitForTerminalAsync(alpha, created.Headers.Location!.ToString(), TimeSpan.FromSeconds(60));
            Assert.True(g.GetProperty("status").GetString() == "failed", $"{g}\n{log}");
            Assert.Equal("model_unavailable", g.GetProperty("error").GetProperty("code").GetString());
            Assert.Contains("does not exist", g.GetProperty("error").GetProperty("message").GetString());
            Assert.Equal(1, g.GetProperty("attempts").GetInt32());

            var models = await alpha.GetFromJsonAsync<JsonElement>("/v1/models");
            var proc = models.GetProperty("data").EnumerateArray().Single(m => m.GetProperty("id").GetString() == "tora-proc");
            Assert.Equal(1, proc.GetProperty("workers").GetProperty("online").GetInt32());
        }
        finally
        {
            // A clean stop (SIGTERM) lets the worker deregister; kill only if it does not exit.
            Process.Start("kill", ["-TERM", worker.Id.ToString()])!.WaitForExit();
            if (!worker.WaitForExit(20_000)) worker.Kill(entireProcessTree: true);
        }
    }
}
