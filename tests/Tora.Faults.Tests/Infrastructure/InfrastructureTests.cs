using Npgsql;
using Tora.TestSupport;

namespace Tora.Faults.Tests;

/// <summary>The fault harness itself: the private cluster and the S3 emulator survive the restarts the fault tests inject.</summary>
public sealed class InfrastructureTests
{
    [Theory]
    [InlineData(PostgresStopMode.Fast)]
    [InlineData(PostgresStopMode.Immediate)]
    public async Task The_private_cluster_restarts_on_its_port_with_its_committed_data(PostgresStopMode mode)
    {
        await using var pg = await PostgresServer.StartNewAsync();
        var cs = await pg.CreateDatabaseAsync("harness");
        await using (var db = NpgsqlDataSource.Create(cs))
        await using (var cmd = db.CreateCommand("CREATE TABLE t (v int); INSERT INTO t VALUES (42)"))
            await cmd.ExecuteNonQueryAsync();
        await pg.StopAsync(mode);
        await using (var down = NpgsqlDataSource.Create(cs))
            await Assert.ThrowsAnyAsync<NpgsqlException>(async () => await down.OpenConnectionAsync());
        await pg.StartAsync();
        NpgsqlConnection.ClearAllPools();
        await using var again = NpgsqlDataSource.Create(cs);
        await using var read = again.CreateCommand("SELECT v FROM t");
        Assert.Equal(42, (int)(await read.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task The_S3_emulator_refuses_connections_while_stopped_and_keeps_its_objects()
    {
        await using var s3 = await S3Emulator.StartNewAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var put = await http.PutAsync($"{s3.Url}/{S3Emulator.Bucket}/probe.txt", new StringContent("kept"));
        Assert.True(put.IsSuccessStatusCode, put.ToString());
        await s3.StopAsync();
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync($"{s3.Url}/{S3Emulator.Bucket}/probe.txt"));
        await s3.StartAsync();
        Assert.Equal("kept", await http.GetStringAsync($"{s3.Url}/{S3Emulator.Bucket}/probe.txt"));
    }
}
