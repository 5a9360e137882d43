using System.Reflection;
using Npgsql;
using Xunit.Sdk;
using Xunit.v3;

namespace Imagebin.Tests.Support;

/// <summary>The two ways Imagebin stores things; every storage, queue and API test runs on both.</summary>
public enum Backend
{
    /// <summary>SQLite (WAL) and files under the data directory: what <c>dotnet run</c> uses.</summary>
    Embedded,

    /// <summary>PostgreSQL and an S3-compatible bucket (Ceph RGW under <c>./test.sh</c>): what many nodes use.</summary>
    ScaleOut,
}

/// <summary>
/// One row per backend, like bitwarden's <c>DatabaseData</c>: <c>[Theory, Backends] Task X(Backend backend)</c>.
/// The scale-out row is never skipped: without its services (<c>./test.sh</c> starts them) it fails and says so.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class BackendsAttribute : DataAttribute
{
    public override ValueTask<IReadOnlyCollection<ITheoryDataRow>> GetData(MethodInfo testMethod, DisposalTracker disposalTracker)
    {
        IReadOnlyCollection<ITheoryDataRow> rows = [new TheoryDataRow<Backend>(Backend.Embedded), new TheoryDataRow<Backend>(Backend.ScaleOut)];
        return ValueTask.FromResult(rows);
    }

    public override bool SupportsDiscoveryEnumeration() => true;
}

/// <summary>The services <c>tests/services.sh</c> starts, as environment variables.</summary>
public static class TestServices
{
    /// <summary>A superuser connection string (database <c>postgres</c>); each test makes its own database from it.</summary>
    public static string? Postgres => Environment.GetEnvironmentVariable("IMAGEBIN_TEST_POSTGRES");

    public static string? S3Url => Environment.GetEnvironmentVariable("IMAGEBIN_TEST_S3_URL");

    public static string S3AccessKey => Environment.GetEnvironmentVariable("IMAGEBIN_TEST_S3_ACCESS_KEY") ?? "imagebin";

    public static string S3SecretKey => Environment.GetEnvironmentVariable("IMAGEBIN_TEST_S3_SECRET_KEY") ?? "imagebin-secret";

    public static string? MissingReason() =>
        Postgres is null || S3Url is null
            ? "PostgreSQL and S3 are not configured (IMAGEBIN_TEST_POSTGRES, IMAGEBIN_TEST_S3_URL): run ./test.sh, or " +
              "tests/services.sh start DIR and . DIR/env before dotnet test."
            : null;

    /// <summary>Fails the test when the services are missing: a scale-out test never passes by not running.</summary>
    public static void Require()
    {
        if (MissingReason() is { } reason)
        {
            throw new InvalidOperationException(reason);
        }
    }

    /// <summary>clamd on TCP, <c>tcp://127.0.0.1:PORT</c>, knowing only the test signatures of <c>tests/clamav/</c>.</summary>
    public static string? ClamAv => Environment.GetEnvironmentVariable("IMAGEBIN_TEST_CLAMD");

    /// <summary>The same clamd on its unix socket, <c>unix:///…/clamd.sock</c>.</summary>
    public static string? ClamAvSocket => Environment.GetEnvironmentVariable("IMAGEBIN_TEST_CLAMD_SOCKET");

    public static string? ClamAvMissingReason() =>
        ClamAv is null || ClamAvSocket is null
            ? "clamd is not configured (IMAGEBIN_TEST_CLAMD, IMAGEBIN_TEST_CLAMD_SOCKET): run ./test.sh, or " +
              "tests/services.sh start DIR and . DIR/env before dotnet test."
            : null;

    /// <summary>The clamd endpoint on TCP or the unix socket; fails the test when clamd is missing, never skips it.</summary>
    public static string RequireClamAv(bool unixSocket = false)
    {
        if (ClamAvMissingReason() is { } reason)
        {
            throw new InvalidOperationException(reason);
        }

        return unixSocket ? ClamAvSocket! : ClamAv!;
    }

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public static string CreateDatabase()
    {
        if (MissingReason() is { } reason)
        {
            throw new InvalidOperationException(reason);
        }

        var name = $"ib_{Guid.NewGuid():N}";
        using (var connection = new NpgsqlConnection(Postgres))
        {
            connection.Open();
            using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            command.ExecuteNonQuery();
        }

        return new NpgsqlConnectionStringBuilder(Postgres) { Database = name }.ConnectionString;
    }

    public static void DropDatabase(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database;
        NpgsqlConnection.ClearAllPools();
        try
        {
            using var connection = new NpgsqlConnection(Postgres);
            connection.Open();
            using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", connection);
            command.ExecuteNonQuery();
        }
        catch (NpgsqlException)
        {
            // A throwaway server: a database left behind is harmless.
        }
    }

    /// <summary>
    /// Deletes a test's bucket and everything in it. RGW allows a user 1000 buckets, and every scale-out test makes one,
    /// so each is removed when its test ends; a failure here leaves a bucket behind and is not the test's concern.
    /// </summary>
    public static void DeleteBucket(string bucket)
    {
        if (S3Url is null)
        {
            return;
        }

        var config = new Amazon.S3.AmazonS3Config
        {
            ServiceURL = S3Url,
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            RequestChecksumCalculation = Amazon.Runtime.RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = Amazon.Runtime.ResponseChecksumValidation.WHEN_REQUIRED,
        };
        using var client = new Amazon.S3.AmazonS3Client(new Amazon.Runtime.BasicAWSCredentials(S3AccessKey, S3SecretKey), config);
        try
        {
            string? token = null;
            do
            {
                var page = client.ListObjectsV2Async(new Amazon.S3.Model.ListObjectsV2Request { BucketName = bucket, ContinuationToken = token }).GetAwaiter().GetResult();
                foreach (var item in page.S3Objects ?? [])
                {
                    client.DeleteObjectAsync(bucket, item.Key).GetAwaiter().GetResult();
                }

                token = page.IsTruncated == true ? page.NextContinuationToken : null;
            }
            while (token is not null);

            client.DeleteBucketAsync(bucket).GetAwaiter().GetResult();
        }
        catch (Amazon.S3.AmazonS3Exception)
        {
            // Never created (the app did not start), or already gone.
        }
    }

    /// <summary>The settings that point an Imagebin at PostgreSQL (a new database) and S3 (a new bucket).</summary>
    public static Dictionary<string, string?> ScaleOutSettings(string connectionString, string bucket) => new()
    {
        ["Database:Provider"] = "Postgres",
        ["ConnectionStrings:Imagebin"] = connectionString,
        ["Storage:Provider"] = "S3",
        ["Storage:S3:ServiceUrl"] = S3Url,
        ["Storage:S3:Bucket"] = bucket,
        ["Storage:S3:AccessKey"] = S3AccessKey,
        ["Storage:S3:SecretKey"] = S3SecretKey,
        ["Storage:S3:Region"] = "us-east-1",
        ["Storage:S3:ForcePathStyle"] = "true",
    };
}
