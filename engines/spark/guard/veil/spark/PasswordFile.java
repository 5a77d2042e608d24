package veil.spark;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.security.sasl.AuthenticationException;

import org.apache.hadoop.conf.Configurable;
import org.apache.hadoop.conf.Configuration;
import org.apache.hive.service.auth.PasswdAuthenticationProvider;

/**
 * HiveServer2 CUSTOM authentication from a password file, so that the Thrift server
 * knows who connects (without it, HiveServer2 accepts any user name). Install with
 * {@code hive.server2.authentication=CUSTOM},
 * {@code hive.server2.custom.authentication.class=veil.spark.PasswordFile} and
 * {@code veil.spark.password.file=PATH} (a Hive setting or a JVM system property).
 *
 * <p>One line per user: {@code user:iterations:salt_hex:hash_hex}, where hash is
 * PBKDF2-HMAC-SHA256(password, salt, iterations, 32 bytes); blank lines and lines
 * starting with {@code #} are skipped. The file is read on every login, so edits take
 * effect without a restart. For tests and small deployments; production uses LDAP or
 * Kerberos.
 */
public final class PasswordFile implements PasswdAuthenticationProvider, Configurable {
    private static final String SETTING = "veil.spark.password.file";
    private Configuration conf;

    @Override
    public void setConf(Configuration conf) {
        this.conf = conf;
    }

    @Override
    public Configuration getConf() {
        return conf;
    }

    @Override
    public void Authenticate(String user, String password) throws AuthenticationException {
        String path = conf == null ? null : conf.get(SETTING);
        if (path == null) {
            path = System.getProperty(SETTING);
        }
        if (path == null) {
            throw new AuthenticationException("veil: no password file (" + SETTING + ")");
        }
        Map<String, String[]> users = read(path);
        String[] entry = users.get(user);
        // An unknown user costs as much as a wrong password.
        String[] check = entry != null ? entry : new String[] {user, "100000", "00", "00"};
        boolean ok;
        try {
            int iterations = Integer.parseInt(check[1]);
            byte[] salt = HexFormat.of().parseHex(check[2]);
            byte[] expected = HexFormat.of().parseHex(check[3]);
            PBEKeySpec spec = new PBEKeySpec(password == null ? new char[0] : password.toCharArray(), salt,
                iterations, 256);
            byte[] actual = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
            ok = MessageDigest.isEqual(expected, actual);
        } catch (IllegalArgumentException | GeneralSecurityException e) {
            throw new AuthenticationException("veil: malformed entry for `" + user + "` in " + path);
        }
        if (entry == null || !ok) {
            throw new AuthenticationException("veil: wrong user name or password");
        }
    }

    private static Map<String, String[]> read(String path) throws AuthenticationException {
        List<String> lines;
        try {
            lines = Files.readAllLines(Paths.get(path), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new AuthenticationException("veil: cannot read the password file " + path);
        }
        Map<String, String[]> users = new HashMap<>();
        for (String line : lines) {
            String t = line.trim();
            if (t.isEmpty() || t.startsWith("#")) {
                continue;
            }
            String[] parts = t.split(":");
            if (parts.length == 4) {
                users.put(parts[0], parts);
            }
        }
        return users;
    }
}
