from services.intake.main import create_app
from services.intake.settings import IntakeSettings
from shared.service import run_service

settings = IntakeSettings()
run_service(create_app(settings), settings)
