"""Shared body of the commands that run a recommender job by hand, with a progress bar."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm


class JobCommand(BaseCommand):
    jobs: tuple[str, ...] = ()

    def run_jobs(self, names: tuple[str, ...] | list[str], *, quiet: bool = False) -> None:
        from recommender.records import JobRun
        from recommender.services import jobs

        failed = []
        for name in names:
            bars: dict[str, tqdm] = {}

            def progress(step: str, done: int, total: int, bars=bars, name=name) -> None:
                if quiet:
                    return
                bar = bars.get(step)
                if bar is None:
                    bar = bars[step] = tqdm(total=total, desc=f"{name}:{step}", unit="row", leave=True)
                bar.update(done - bar.n)

            run = jobs.JOBS[name](progress=progress)
            for bar in bars.values():
                bar.close()
            line = f"{name}: {run.status} version={run.artefact_version or '-'} seconds={run.stats.get('seconds')}"
            if run.status == JobRun.Status.FAILED:
                failed.append(name)
                self.stderr.write(line + "\n" + run.error.splitlines()[0])
            else:
                self.stdout.write(line)
        if failed:
            raise CommandError(f"failed: {', '.join(failed)}")
