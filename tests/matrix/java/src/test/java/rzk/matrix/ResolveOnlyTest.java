package rzk.matrix;

import org.junit.jupiter.api.Test;

/**
 * Not a matrix test: run.sh runs this once online (-Dtest=ResolveOnlyTest) so that Maven fetches the
 * JUnit provider surefire only resolves when it really runs a test; every later run is offline.
 */
class ResolveOnlyTest {
    @Test
    void resolves() {}
}
