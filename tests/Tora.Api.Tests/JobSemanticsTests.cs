using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Microsoft.Extensions.DependencyInjection;
using Tora.Core.Generations;
using Tora.Core.Jobs;

namespace Tora.Api.Tests;

[Collection(ServiceCollection.Name)]
public sealed class JobSemanticsTests(ServiceFixture service)
{
    [Fact]
    public async Task A_second_job_for_a_finished_generation_changes_nothing()
    {
        using var alpha = service.Client(service.AlphaKey);
        var created = await alpha.PostAsJsonAsync("/v1/generations", new { model = "tora-tiny", prompt = "once only", seed = 5 });
        var first = await service.WaitForTerminalAsync(alpha, created.Headers.Location!.ToString(), TimeSpan.FromSeconds(60));
        Assert.Equal("succeeded", first.GetProperty("status").GetString());

        // A duplicate job (as after a crash between Hangfire's create and the outbox commit) runs and does nothing.
        var jobs = service.Api.Services.GetRequiredService<IBackgroundJobClient>();
        var id = first.GetProperty("id").GetGuid();
        var duplicate = jobs.Create(Job.FromExpression<IGenerationJob>(j => j.RunAsync(id, null, CancellationToken.None), "gen-tora-tiny"), new EnqueuedState("gen-tora-tiny"));
        var monitor = JobStorage.Current.GetMonitoringApi();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (monitor.JobDetails(duplicate).History.FirstOrDefault()?.StateName != SucceededState.StateName && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        Assert.Equal(SucceededState.StateName, monitor.JobDetails(duplicate).History.First().StateName);

        var after = await alpha.GetFromJsonAsync<JsonElement>(created.Headers.Location);
        Assert.Equal("succeeded", after.GetProperty("status").GetString());
        Assert.Equal(1, after.GetProperty("attempts").GetInt32());
        Assert.Equal(first.GetProperty("finished_at").GetString(), after.GetProperty("finished_at").GetString());
    }

    [Fact]
    public async Task A_transient_fault_is_retried_on_the_same_models_queue_and_then_succeeds()
    {
        using var alpha = service.Client(service.AlphaKey);
        var created = await alpha.PostAsJsonAsync("/v1/generations", new { model = "tora-tiny", prompt = "a transient fault", seed = 123456 });
        var g = await service.WaitForTerminalAsync(alpha, created.Headers.Location!.ToString(), TimeSpan.FromSeconds(90));
        Assert.Equal("succeeded", g.GetProperty("status").GetString());
        Assert.Equal(2, g.GetProperty("attempts").GetInt32());

        var row = await service.Api.Services.GetRequiredService<GenerationStore>().GetAnyAsync(g.GetProperty("id").GetGuid(), default);
        var details = JobStorage.Current.GetMonitoringApi().JobDetails(row!.JobId);
        Assert.Equal("gen-tora-tiny", details.Job.Queue);
        Assert.Contains(details.History, h => h.StateName == ScheduledState.StateName);
    }

    [Fact]
    public async Task Deleting_a_running_job_stops_the_pipeline_between_steps_and_marks_it_cancelled()
    {
        using var alpha = service.Client(service.AlphaKey);
        var created = await alpha.PostAsJsonAsync("/v1/generations", new { model = "tora-tiny", prompt = "run slowly please", steps = 10 });
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var location = created.Headers.Location!.ToString();
        JsonElement g;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        do
        {
            await Task.Delay(50);
            g = await alpha.GetFromJsonAsync<JsonElement>(location);
        } while (!(g.GetProperty("status").GetString() == "running" && g.GetProperty("progress").GetProperty("step").GetInt32() >= 1) && DateTime.UtcNow < deadline);
        Assert.Equal("running", g.GetProperty("status").GetString());
        Assert.True(g.GetProperty("progress").GetProperty("eta_seconds").GetDouble() > 0);

        var store = service.Api.Services.GetRequiredService<GenerationStore>();
        var row = await store.GetAnyAsync(g.GetProperty("id").GetGuid(), default);
        Assert.True(service.Api.Services.GetRequiredService<IBackgroundJobClient>().Delete(row!.JobId));

        var done = await service.WaitForTerminalAsync(alpha, location, TimeSpan.FromSeconds(30));
        Assert.Equal("cancelled", done.GetProperty("status").GetString());
        Assert.True(done.GetProperty("progress").GetProperty("step").GetInt32() < 10);
        Assert.Null(done.GetProperty("urls").GetProperty("video").GetString());
        Assert.Equal(HttpStatusCode.NoContent, (await alpha.DeleteAsync(location)).StatusCode);
    }
}
