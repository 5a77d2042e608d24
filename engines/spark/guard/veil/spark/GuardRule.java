package veil.spark;

import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.CurrentUserContext$;
import org.apache.spark.sql.catalyst.TableIdentifier;
import org.apache.spark.sql.catalyst.analysis.SQLFunctionExpression;
import org.apache.spark.sql.catalyst.analysis.SQLFunctionNode;
import org.apache.spark.sql.catalyst.analysis.SQLScalarFunction;
import org.apache.spark.sql.catalyst.expressions.CallMethodViaReflection;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.SubqueryExpression;
import org.apache.spark.sql.catalyst.expressions.UserDefinedExpression;
import org.apache.spark.sql.catalyst.plans.logical.CTERelationRef;
import org.apache.spark.sql.catalyst.plans.logical.Command;
import org.apache.spark.sql.catalyst.plans.logical.LocalRelation;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.plans.logical.OneRowRelation;
import org.apache.spark.sql.catalyst.plans.logical.Range;
import org.apache.spark.sql.catalyst.plans.logical.SetCatalogAndNamespace;
import org.apache.spark.sql.catalyst.plans.logical.View;

import scala.Option;
import scala.Tuple2;
import scala.collection.Iterator;
import scala.runtime.AbstractFunction1;
import scala.runtime.BoxedUnit;

/**
 * The check behind {@link Guard}. For a reader (not an admin), an analysed statement
 * passes only when:
 * <ul>
 * <li>it is a query, or {@code USE} (every other command is refused: DDL, DML,
 * {@code SET}, {@code ADD JAR}, {@code CACHE}, {@code EXPLAIN}, {@code SHOW},
 * {@code DESCRIBE});</li>
 * <li>every relation it reads is a persistent view of the secure schema (whose body is
 * not checked: it is veil's), a CTE defined in the statement, {@code VALUES} or
 * {@code range()}: base tables, veil's facts and key tables, other views, temporary
 * views and path reads ({@code parquet.`/path`}) are refused;</li>
 * <li>outside those views it calls no user-defined function (Hive UDFs such as veil's
 * JNI functions, SQL functions) and no {@code reflect}/{@code java_method};</li>
 * <li>the session holds the server's settings (a client's {@code set:hiveconf:}
 * settings reach the session without a statement).</li>
 * </ul>
 * Spark also runs check rules on a view's body while it resolves the view; those runs
 * are skipped, and the statement's own run sees the whole plan with each view as one
 * node.
 */
final class GuardRule extends AbstractFunction1<LogicalPlan, BoxedUnit> {
    /** The guard's static settings. */
    static final class Settings {
        final Set<String> admins;
        final String secureSchema;

        Settings(Set<String> admins, String secureSchema) {
            this.admins = admins;
            this.secureSchema = secureSchema;
        }

        static Settings of(SparkConf conf) {
            Set<String> admins = new TreeSet<>();
            for (String a : conf.get("spark.veil.admins", "").split(",")) {
                if (!a.trim().isEmpty()) {
                    admins.add(a.trim());
                }
            }
            return new Settings(admins, conf.get("spark.veil.secureSchema", "secure").toLowerCase(Locale.ROOT));
        }
    }

    /** Settings the Thrift server itself gives every session. */
    private static final Set<String> SERVER_SESSION_SETTINGS = Set.of(
        "spark.sql.datetime.java8API.enabled", "spark.sql.binaryOutputStyle");

    private static final String VIEW_RESOLUTION = "org.apache.spark.sql.catalyst.analysis.ViewResolution$";

    private final Settings settings;
    private final SparkSession session;

    GuardRule(Settings settings, SparkSession session) {
        this.settings = settings;
        this.session = session;
    }

    @Override
    public BoxedUnit apply(LogicalPlan plan) {
        // The same name current_user() gives in SQL.
        String user = CurrentUserContext$.MODULE$.getCurrentUser();
        if (user != null && settings.admins.contains(user)) {
            return BoxedUnit.UNIT;
        }
        if (resolvingView()) {
            return BoxedUnit.UNIT;
        }
        String changed = changedSetting();
        if (changed != null) {
            throw refuse(user, "query in a session with setting `" + changed + "` changed: readers use the server's settings");
        }
        if (plan instanceof SetCatalogAndNamespace) {
            return BoxedUnit.UNIT;
        }
        walk(plan, user);
        return BoxedUnit.UNIT;
    }

    /**
     * A check run on a view's body while Spark resolves the view (ViewResolution on
     * the stack); the statement's own run, later, sees the view as one node. (Plan
     * origins cannot tell view bodies apart: Spark caches a resolved relation across
     * statements with the origin of its first use, which may be a view.)
     */
    private static boolean resolvingView() {
        return StackWalker.getInstance().walk(frames -> frames.anyMatch(f -> f.getClassName().equals(VIEW_RESOLUTION)));
    }

    /**
     * A setting the session holds with another value than the server's, or null:
     * HiveServer2 applies a client's {@code set:hiveconf:} settings to the session
     * without a statement the guard could see (a time zone, for one, would shift a
     * time window).
     */
    private String changedSetting() {
        SparkConf server = session.sparkContext().getConf();
        for (Iterator<Tuple2<String, String>> it = session.sessionState().conf().getAllConfs().iterator();
            it.hasNext();) {
            Tuple2<String, String> kv = it.next();
            if (SERVER_SESSION_SETTINGS.contains(kv._1())) {
                continue;
            }
            // The server's --conf settings, and its --hiveconf ones (JVM system properties).
            Option<String> own = server.getOption(kv._1());
            if (!(own.isDefined() && own.get().equals(kv._2())) && !kv._2().equals(System.getProperty(kv._1()))) {
                return kv._1();
            }
        }
        return null;
    }

    private void walk(LogicalPlan plan, String user) {
        if (plan instanceof View) {
            View view = (View) plan;
            TableIdentifier id = view.desc().identifier();
            if (!view.isTempView() && id.database().isDefined()
                && id.database().get().toLowerCase(Locale.ROOT).equals(settings.secureSchema)) {
                return;
            }
            throw refuse(user, (view.isTempView() ? "read temporary view `" : "read view `") + id.unquotedString()
                + "`, which is not one of veil's secure views");
        }
        if (plan instanceof Command) {
            throw refuse(user, "run " + plan.nodeName() + ": readers may only query");
        }
        if (plan instanceof SQLFunctionNode) {
            throw refuse(user, "call SQL function `" + ((SQLFunctionNode) plan).function().name() + "`");
        }
        if (plan.children().isEmpty() && !(plan instanceof OneRowRelation || plan instanceof LocalRelation
            || plan instanceof Range || plan instanceof CTERelationRef)) {
            throw refuse(user, relation(plan));
        }
        for (Iterator<Expression> it = plan.expressions().iterator(); it.hasNext();) {
            check(it.next(), user);
        }
        for (Iterator<LogicalPlan> it = plan.children().iterator(); it.hasNext();) {
            walk(it.next(), user);
        }
    }

    private void check(Expression e, String user) {
        if (e instanceof CallMethodViaReflection) {
            throw refuse(user, "call reflect()/java_method()");
        }
        if (e instanceof UserDefinedExpression || e instanceof SQLScalarFunction || e instanceof SQLFunctionExpression) {
            throw refuse(user, "call function `" + e.prettyName() + "`: readers call Spark's built-in functions only");
        }
        if (e instanceof SubqueryExpression) {
            walk(((SubqueryExpression) e).plan(), user);
        }
        for (Iterator<Expression> it = e.children().iterator(); it.hasNext();) {
            check(it.next(), user);
        }
    }

    /** A leaf relation, named as well as the plan allows. */
    private static String relation(LogicalPlan plan) {
        String first = plan.simpleString(8).split("\n", 2)[0];
        if (first.length() > 200) {
            first = first.substring(0, 200) + "...";
        }
        return "read relation " + first + " (readers read veil's secure views only)";
    }

    private static SecurityException refuse(String user, String what) {
        return new SecurityException("veil: reader `" + (user == null ? "(unknown)" : user) + "` may not " + what);
    }
}
