package veil.spark.udf;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * veil-core through JNI (crates/veil-spark). The library travels inside this jar
 * ({@code /native/linux-x86_64/libveil_spark.so}) and is copied to a temporary file
 * and loaded on first use, so executors need nothing installed; the system property
 * {@code veil.spark.native} names another copy.
 */
final class Native {
    private static final String RESOURCE = "/native/linux-x86_64/libveil_spark.so";

    static {
        String path = System.getProperty("veil.spark.native");
        if (path != null) {
            System.load(path);
        } else {
            System.load(extract().toString());
        }
    }

    private Native() {}

    private static Path extract() {
        try (InputStream in = Native.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new UnsatisfiedLinkError("veil: " + RESOURCE + " is not in the UDF jar (build it with scripts/build-spark)");
            }
            Path file = Files.createTempFile("veil-spark-", ".so");
            file.toFile().deleteOnExit();
            Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
            return file;
        } catch (IOException e) {
            throw new UnsatisfiedLinkError("veil: cannot unpack the native library: " + e.getMessage());
        }
    }

    /** FF1 of UTF-8 {@code value} under the derived FF1 key of {@code scope}. */
    static native byte[] ff1(byte[] key, byte[] scope, byte[] value);

    /** The reversible token of {@code value} under the derived token key of {@code scope}. */
    static native byte[] token(byte[] key, byte[] scope, byte[] value);

    /** HMAC-SHA-256 of {@code value} under the derived hash key, as lowercase hex. */
    static native byte[] hash(byte[] key, byte[] value);
}
