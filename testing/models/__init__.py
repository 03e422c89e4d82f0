"""The test design domain of seed 001 (sections 3.2-3.13 and 3.17), split by subdomain."""

from testing.models.environments import Environment, Variable
from testing.models.imports import ImportJob, ImportStatus
from testing.models.interfaces import Interface, InterfaceFolder
from testing.models.keywords import BuiltinKeyword, GlobalFunction, Keyword
from testing.models.plans import PlanScenario, TestPlan
from testing.models.projects import DatabaseConfig, Project
from testing.models.runs import Execution, ExecutionStep, StepResult
from testing.models.schedules import PlanSchedule
from testing.models.scenarios import Dataset, DatasetError, Scenario, ScenarioStep, parse_csv

__all__ = [
    "BuiltinKeyword",
    "DatabaseConfig",
    "Dataset",
    "DatasetError",
    "Environment",
    "Execution",
    "ExecutionStep",
    "GlobalFunction",
    "ImportJob",
    "ImportStatus",
    "Interface",
    "InterfaceFolder",
    "Keyword",
    "PlanScenario",
    "PlanSchedule",
    "Project",
    "Scenario",
    "ScenarioStep",
    "StepResult",
    "TestPlan",
    "Variable",
    "parse_csv",
]
