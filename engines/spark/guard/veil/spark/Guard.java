package veil.spark;

import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;

import scala.Function1;
import scala.runtime.AbstractFunction1;
import scala.runtime.BoxedUnit;

/**
 * veil's guard for Apache Spark, installed with
 * {@code spark.sql.extensions=veil.spark.Guard}: a check rule run on every analysed
 * statement that lets a reader (anyone but the admins of {@code spark.veil.admins})
 * read the persistent views of veil's secure schema and nothing else. See
 * {@link GuardRule} for what it refuses.
 *
 * <p>Static settings (read from the SparkContext's configuration, which no session can
 * change): {@code spark.veil.admins} (comma-separated user names that are not guarded;
 * default none), {@code spark.veil.secureSchema} (default {@code secure}).
 */
public final class Guard extends AbstractFunction1<SparkSessionExtensions, BoxedUnit> {
    @Override
    public BoxedUnit apply(SparkSessionExtensions extensions) {
        extensions.injectCheckRule(new AbstractFunction1<SparkSession, Function1<LogicalPlan, BoxedUnit>>() {
            @Override
            public Function1<LogicalPlan, BoxedUnit> apply(SparkSession session) {
                return new GuardRule(GuardRule.Settings.of(session.sparkContext().getConf()), session);
            }
        });
        return BoxedUnit.UNIT;
    }
}
